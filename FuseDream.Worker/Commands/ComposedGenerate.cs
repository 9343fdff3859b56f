using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using FuseDream.Composition;
using FuseDream.Generation;

namespace FuseDream.Worker.Commands;

/// <summary>
/// <c>generate</c>'s flags for a composed scene: <c>--component "prompt[@x0,y0,x1,y1[,feather]]"</c>
/// (repeatable, background first) or <c>--components file.json</c>, and the fusion's options.
/// </summary>
internal sealed class SceneFlags
{
    private readonly Option<string[]> _component = new("--component")
    {
        Description = "A part of a composed scene: \"prompt\" or \"prompt@x0,y0,x1,y1[,feather]\" (box in [0, 1] image coordinates, y down). Repeat 2–4 times, background first.",
        AllowMultipleArgumentsPerToken = false,
    };
    private readonly Option<string?> _components = new("--components") { Description = "A JSON file of the scene's components: [{\"prompt\": …, \"box\": [x0, y0, x1, y1], \"feather\": …}, …] (or {\"components\": [...]})." };
    private readonly Option<int?> _innerSteps = new("--inner-steps") { Description = Range("K: lower-level Adam steps unrolled per fusion step", nameof(CompositionOptions.InnerSteps)) };
    private readonly Option<int?> _fusionSteps = new("--fusion-steps") { Description = Range("Outer steps of the fusion", nameof(CompositionOptions.FusionSteps)) };
    private readonly Option<int?> _warmupSteps = new("--warmup-steps") { Description = Range("Lower-level steps before the first fusion step", nameof(CompositionOptions.WarmupSteps)) };
    private readonly Option<double?> _innerLr = new("--inner-lr") { Description = Range("Adam learning rate of the fused latent", nameof(CompositionOptions.InnerLearningRate)) };
    private readonly Option<double?> _outerLr = new("--outer-lr") { Description = Range("Adam learning rate of the components' latents", nameof(CompositionOptions.OuterLearningRate)) };
    private readonly Option<double?> _mu = new("--mu") { Description = Range("Weight of the components' own AugCLIP terms", nameof(CompositionOptions.ComponentWeight)) };
    private readonly Option<double?> _pixelWeight = new("--pixel-weight") { Description = Range("Weight of the masked pixel L2 term", nameof(CompositionOptions.PixelWeight)) };
    private readonly Option<double?> _featureWeight = new("--feature-weight") { Description = Range("Weight of the masked CLIP-feature term", nameof(CompositionOptions.FeatureWeight)) };
    private readonly Option<int?> _fusionAugmentations = new("--fusion-augmentations") { Description = Range("DiffAugment copies per AugCLIP term of a fusion step", nameof(CompositionOptions.FusionAugmentations)) };
    private readonly Option<int?> _fusionScoreEvery = new("--fusion-score-every") { Description = Range("Measure the scene's AugCLIP every N fusion steps (0: start and end)", nameof(CompositionOptions.FusionScoreEvery)) };
    private readonly Option<double?> _feather = new("--feather") { Description = Range("Default softness of the boxes' edges", nameof(CompositionOptions.Feather)) };

    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { _component, _components, _innerSteps, _fusionSteps, _warmupSteps, _innerLr, _outerLr, _mu, _pixelWeight, _featureWeight, _fusionAugmentations, _fusionScoreEvery, _feather })
            command.Options.Add(option);
    }

    /// <summary>The scene's components, or null when the run is a single prompt.</summary>
    public IReadOnlyList<SceneComponent>? Components(ParseResult parse)
    {
        var flags = parse.GetValue(_component) ?? [];
        var file = parse.GetValue(_components);
        if (flags.Length > 0 && file is not null)
            throw new ArgumentException("give the components either with --component or in a --components file, not both");
        IReadOnlyList<SceneComponent>? components = file is not null ? ReadFile(file) : flags.Length > 0 ? [.. flags.Select(ParseFlag)] : null;
        if (components is null) return null;
        var errors = SceneValidation.Validate(components, new FuseDream.Text.ClipPromptTokenCounter());
        if (errors.Count > 0)
            throw new ArgumentException("invalid scene: " + string.Join("; ", errors.Select(e => $"{e.Field}: {e.Reason}")));
        return components;
    }

    public CompositionOptions Apply(CompositionOptions o, ParseResult parse) => o.With(new CompositionOverrides
    {
        InnerSteps = parse.GetValue(_innerSteps),
        FusionSteps = parse.GetValue(_fusionSteps),
        WarmupSteps = parse.GetValue(_warmupSteps),
        InnerLearningRate = parse.GetValue(_innerLr),
        OuterLearningRate = parse.GetValue(_outerLr),
        ComponentWeight = parse.GetValue(_mu),
        PixelWeight = parse.GetValue(_pixelWeight),
        FeatureWeight = parse.GetValue(_featureWeight),
        FusionAugmentations = parse.GetValue(_fusionAugmentations),
        FusionScoreEvery = parse.GetValue(_fusionScoreEvery),
        Feather = parse.GetValue(_feather),
    });

    /// <summary>"prompt" or "prompt@x0,y0,x1,y1[,feather]" (the last '@' starts the box).</summary>
    internal static SceneComponent ParseFlag(string value)
    {
        var at = value.LastIndexOf('@');
        if (at < 0) return new SceneComponent(value.Trim());
        var prompt = value[..at].Trim();
        var numbers = value[(at + 1)..].Split(',', StringSplitOptions.TrimEntries);
        var parsed = numbers.Select(n => double.TryParse(n, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : (double?)null).ToArray();
        if (parsed.Length is not (4 or 5) || parsed.Any(p => p is null))
            throw new ArgumentException($"--component \"{value}\": after '@' give the box as x0,y0,x1,y1 or x0,y0,x1,y1,feather (numbers in [0, 1]); for a prompt holding '@', use a --components file");
        return new SceneComponent(prompt, new SceneBox(parsed[0]!.Value, parsed[1]!.Value, parsed[2]!.Value, parsed[3]!.Value), parsed.Length == 5 ? parsed[4] : null);
    }

    private sealed record ComponentJson(string? Prompt, double[]? Box, double? Feather);

    private static IReadOnlyList<SceneComponent> ReadFile(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"components file not found: '{Path.GetFullPath(path)}'", path);
        var json = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllText(path));
            var list = document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("components", out var inner)
                ? inner : document.RootElement;
            var items = list.Deserialize<ComponentJson[]>(json) ?? throw new InvalidDataException($"'{path}': no components");
            return [.. items.Select((c, i) => c.Box is { Length: not 4 }
                ? throw new ArgumentException($"'{path}': components[{i}].box must be [x0, y0, x1, y1] (got {c.Box.Length} numbers)")
                : new SceneComponent(c.Prompt ?? "", c.Box is { } b ? new SceneBox(b[0], b[1], b[2], b[3]) : null, c.Feather))];
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"'{path}' is not a components file: {ex.Message}", ex);
        }
    }

    private static string Range(string what, string property)
    {
        var (min, max) = CompositionOptions.RangeOf(property)!.Value;
        var defaults = typeof(CompositionOptions).GetProperty(property)!.GetValue(new CompositionOptions());
        return string.Format(CultureInfo.InvariantCulture, "{0} ({1:G} … {2:G}; default {3}).", what, min, max, Convert.ToString(defaults, CultureInfo.InvariantCulture));
    }
}

/// <summary><c>generate</c> with components: a composed generation, its files written beside the image.</summary>
internal static class ComposedGenerate
{
    public sealed record Inputs(
        string Prompt, IReadOnlyList<SceneComponent> Components, string Preset, long Seed, PipelineInputs Pipeline, OutputPaths Paths);

    public static async Task<int> RunAsync(Inputs inputs, ParseResult parse, OptionOverrides overrides, SceneFlags scene, CancellationToken cancellationToken)
    {
        var preset = CompositionPresets.Get(inputs.Preset);
        var options = overrides.Apply(preset.Components, parse);
        var composition = scene.Apply(preset.Fusion, parse);
        var modelGiven = parse.GetValue(overrides.Model) is not null;
        PipelineInputs.CheckBeforeLoading(options.Validate().Concat(composition.Validate()), modelGiven);

        using var pipeline = inputs.Pipeline.Load();
        options = PipelineInputs.ForPipeline(pipeline, options, modelGiven);

        Console.Error.WriteLine($"Scene: {inputs.Prompt}");
        for (var i = 0; i < inputs.Components.Count; i++)
            Console.Error.WriteLine($"  component {i + 1}: {inputs.Components[i].Prompt} @ {inputs.Components[i].Region}");
        Console.Error.WriteLine($"Seed: {inputs.Seed}   Model: {options.Model}   Per component: basis {options.BasisIterations}×{options.SamplesPerIteration}, {options.Steps} steps   Fusion: {composition.FusionSteps} steps, K = {composition.InnerSteps}   {inputs.Pipeline.RuntimeSummary(pipeline)}");
        var bar = new ProgressLine(Console.Error);
        var paths = inputs.Paths;
        var result = await new CompositionPipeline(pipeline).RunAsync(
            new CompositionRequest(inputs.Prompt, inputs.Components, inputs.Seed, options, composition), bar, paths.PreviewWriter("fusion"), cancellationToken);
        bar.Finish();
        if (result.Timings is { } timings) Console.Error.WriteLine(Format(timings));

        await paths.WriteImagesAsync(result.Png,
            [(paths.Composite, result.CompositePng), .. result.ComponentPngs.Select((png, i) => (paths.Component(i + 1), png))], cancellationToken);
        var plotted = result.Trace.Fusion.Select(p => new TracePoint(p.Step, -p.Upper, p.SceneAugClip)).ToList();
        await paths.WriteTraceAsync(result.Trace.ToJson(), plotted, inputs.Prompt, cancellationToken);

        var c = CultureInfo.InvariantCulture;
        Console.WriteLine($"AugCLIP score: {result.AugClipScore.ToString("0.0000", c)} (the fused image; naive composite {result.Trace.CompositeSceneAugClip?.ToString("0.0000", c)}, fusion start {result.Trace.StartSceneAugClip?.ToString("0.0000", c)})");
        paths.Print(Console.Out, options.PreviewEvery > 0,
            [("Composite", paths.Composite), .. Enumerable.Range(1, result.ComponentPngs.Count).Select(i => ($"Component {i}", paths.Component(i)))]);
        return 0;
    }

    /// <summary>
    /// Where the run's time went, in seconds: each component's basis search and optimisation, the
    /// fusion's warm-up, targets, unrolled inner steps, upper objective and hypergradient, the scene
    /// measurements, the final images and scores, and the whole run.
    /// </summary>
    internal static string Format(CompositionTimings t)
    {
        var c = CultureInfo.InvariantCulture;
        string S(TimeSpan span) => span.TotalSeconds.ToString("0.0", c);
        var components = string.Join(", ", t.Components.Select((p, i) => $"component {i + 1} {S(p.BasisSearch)} + {S(p.Optimizing)}"));
        var f = t.Fusion;
        return $"Time (s): {components} (basis search + optimising); fusion: warm-up {S(f.Warmup)}, targets {S(f.Targets)}, inner steps {S(f.InnerSteps)}, "
            + $"upper objective {S(f.UpperObjective)}, hypergradient {S(f.Hypergradient)}; scene measurements {S(t.SceneMeasurements)}; final {S(t.Final)}; total {S(t.Total)}";
    }
}
