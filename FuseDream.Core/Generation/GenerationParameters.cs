using System.Globalization;
using System.Text;

namespace FuseDream.Generation;

/// <summary>
/// The human-readable <c>parameters</c> text in the style AUTOMATIC1111's web UI writes: the
/// prompt (weighted prompts as <c>(text:weight), …</c>, see <see cref="WeightedPrompts.Format"/>), then one line of <c>Key: value</c> pairs separated by <c>", "</c>. Tools that show
/// A1111 metadata show it as is; the JSON chunk beside it is the exact record.
/// </summary>
internal static class GenerationParameters
{
    public static string Format(ImageProvenance provenance)
    {
        ArgumentNullException.ThrowIfNull(provenance);
        var o = provenance.Options;
        var pairs = new List<(string, string)>
        {
            ("Steps", Invariant(o.Steps)),
            ("Seed", Invariant(provenance.Seed)),
            ("Model", o.Model),
        };
        if (provenance.ModelSha256.TryGetValue("biggan", out var bigGanHash)) pairs.Add(("Model hash", Short(bigGanHash)));
        if (provenance.ModelSha256.TryGetValue("clip", out var clipHash)) pairs.Add(("CLIP hash", Short(clipHash)));
        pairs.Add(("Basis", $"{Invariant(o.BasisIterations)}x{Invariant(o.SamplesPerIteration)}"));
        pairs.Add(("Top k", Invariant(o.TopK)));
        pairs.Add(("Augmentations", Invariant(o.Augmentations)));
        pairs.Add(("Learning rate", o.LearningRate.ToString("G", CultureInfo.InvariantCulture)));
        pairs.Add(("Latent noise", o.LatentNoise ? "on" : "off"));
        pairs.Add(("Optimize y", o.OptimizeY ? "on" : "off"));
        pairs.Add(("Init", o.Init));
        pairs.Add(("Keep best", o.KeepBest ? "on" : "off"));
        if (o.Patience > 0)
        {
            pairs.Add(("Patience", Invariant(o.Patience)));
            pairs.Add(("Min improvement", o.MinImprovement.ToString("G", CultureInfo.InvariantCulture)));
        }
        if (provenance.Composition is { } c)
        {
            pairs.Add(("Fusion steps", Invariant(c.FusionSteps)));
            pairs.Add(("Inner steps", Invariant(c.InnerSteps)));
            pairs.Add(("Warmup", Invariant(c.WarmupSteps)));
            pairs.Add(("Inner lr", c.InnerLearningRate.ToString("G", CultureInfo.InvariantCulture)));
            pairs.Add(("Outer lr", c.OuterLearningRate.ToString("G", CultureInfo.InvariantCulture)));
            pairs.Add(("Mu", c.ComponentWeight.ToString("G", CultureInfo.InvariantCulture)));
            pairs.Add(("Pixel weight", c.PixelWeight.ToString("G", CultureInfo.InvariantCulture)));
            pairs.Add(("Feature weight", c.FeatureWeight.ToString("G", CultureInfo.InvariantCulture)));
            pairs.Add(("Fusion augmentations", Invariant(c.FusionAugmentations)));
        }
        if (provenance.AugClipScore is { } score) pairs.Add(("AugCLIP", score.ToString("0.0000", CultureInfo.InvariantCulture)));
        if (provenance.Device is { } device) pairs.Add(("Device", device));
        pairs.Add(("Version", $"FuseDream {provenance.ProgramVersion}"));

        // Weighted prompts in A1111's attention syntax, whatever display text the prompt holds.
        var text = new StringBuilder(o.Prompts is { } prompts ? WeightedPrompts.Format(prompts) : provenance.Prompt);
        text.Append('\n');
        // A composed scene: one line per component (prompt @ box, feather) before the pairs.
        foreach (var (component, i) in (provenance.Components ?? []).Select((c, i) => (c, i)))
        {
            text.Append(CultureInfo.InvariantCulture, $"Component {i + 1}: {component.Prompt}");
            if (component.Box is { } box) text.Append(CultureInfo.InvariantCulture, $" @ {box}");
            if (component.Feather is { } feather) text.Append(CultureInfo.InvariantCulture, $", feather {feather:G}");
            text.Append('\n');
        }
        text.AppendJoin(", ", pairs.Select(p => $"{p.Item1}: {p.Item2}"));
        return text.ToString();
    }

    /// <summary>Splits a parameters text into the prompt (every line but the last) and the last line's pairs.</summary>
    public static (string Prompt, IReadOnlyDictionary<string, string> Values) Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var lastBreak = text.LastIndexOf('\n');
        var prompt = lastBreak < 0 ? "" : text[..lastBreak];
        var line = lastBreak < 0 ? text : text[(lastBreak + 1)..];
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in line.Split(", ", StringSplitOptions.RemoveEmptyEntries))
        {
            var colon = pair.IndexOf(": ", StringComparison.Ordinal);
            if (colon > 0) values[pair[..colon]] = pair[(colon + 2)..];
        }
        return (prompt, values);
    }

    private static string Short(string hash) => hash.Length > 10 ? hash[..10] : hash;

    private static string Invariant(long value) => value.ToString(CultureInfo.InvariantCulture);
}
