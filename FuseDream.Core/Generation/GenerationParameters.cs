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
        if (provenance.AugClipScore is { } score) pairs.Add(("AugCLIP", score.ToString("0.0000", CultureInfo.InvariantCulture)));
        if (provenance.Device is { } device) pairs.Add(("Device", device));
        pairs.Add(("Version", $"FuseDream {provenance.ProgramVersion}"));

        // Weighted prompts in A1111's attention syntax, whatever display text the prompt holds.
        var text = new StringBuilder(o.Prompts is { } prompts ? WeightedPrompts.Format(prompts) : provenance.Prompt);
        text.Append('\n');
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
