using System.Text.Json;
using System.Text.Json.Serialization;
using FuseDream.Generation;

namespace FuseDream.Composition;

/// <summary>What to compose: the scene prompt T, its components (background first), the seed and the options of both stages.</summary>
public sealed record CompositionRequest(
    string Prompt,
    IReadOnlyList<SceneComponent> Components,
    long Seed,
    GenerationOptions Options,
    CompositionOptions Composition);

/// <summary>
/// What a composed generation stores with its row beside the scene prompt, seed and stage-1
/// options: the components (background first) and the fusion's options.
/// </summary>
public sealed record ComposedScene(IReadOnlyList<SceneComponent> Components, CompositionOptions Composition);

/// <summary>One outer step of the fusion in the trace: the lower level's distance at the first and last of its K inner steps, the upper objective, and the scene's AugCLIP where measured.</summary>
public sealed record FusionTracePoint(int Step, double LowerStart, double LowerEnd, double Upper, double? SceneAugClip);

/// <summary>Stage 1 of one component in the trace.</summary>
public sealed record ComponentTrace
{
    public required SceneComponent Component { get; init; }

    /// <summary>The seed of the component's own search (derived from the request's).</summary>
    public required long Seed { get; init; }

    /// <summary>Plain CLIP cosine of each basis sample, best first.</summary>
    public IReadOnlyList<double> BasisScores { get; init; } = [];

    /// <summary>The loss of every optimisation step, AugCLIP where measured.</summary>
    public IReadOnlyList<TracePoint> Points { get; init; } = [];

    /// <summary>AugCLIP of the component's image after stage 1, against its own prompt.</summary>
    public double? AugClip { get; init; }

    /// <summary>AugCLIP of the fused image's crop to the component's box, against the component's prompt.</summary>
    public double? FusedCropAugClip { get; init; }
}

/// <summary>The trace of a composed generation, stored beside its image: both stages, both levels' losses and the measured scores.</summary>
public sealed record CompositionTrace
{
    public required string Prompt { get; init; }
    public required long Seed { get; init; }
    public required GenerationOptions Options { get; init; }
    public required CompositionOptions Composition { get; init; }
    public IReadOnlyList<ComponentTrace> Components { get; init; } = [];

    /// <summary>The lower level's distance at each warm-up step (before the first outer step).</summary>
    public IReadOnlyList<double> Warmup { get; init; } = [];

    public IReadOnlyList<FusionTracePoint> Fusion { get; init; } = [];

    /// <summary>The scene's AugCLIP of G(ξ) at the fusion's start (after the warm-up), with the same augmentations as every scene measurement.</summary>
    public double? StartSceneAugClip { get; init; }

    /// <summary>The scene's AugCLIP of the naive composite Σᵢ mᵢ ⊙ xᵢ, for comparison.</summary>
    public double? CompositeSceneAugClip { get; init; }

    /// <summary>The scene's AugCLIP of the result G(ξ*), over FinalAugmentations.</summary>
    public double? FinalAugClip { get; init; }

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static CompositionTrace FromJson(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        try
        {
            return JsonSerializer.Deserialize<CompositionTrace>(json, Json)
                ?? throw new InvalidDataException("the composition trace JSON is empty (null)");
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"not a composition trace: {ex.Message}", ex);
        }
    }
}

/// <summary>
/// The outcome of a composed generation: the fused image G(ξ*) (one GAN image, with provenance),
/// and for comparison the naive composite and each component's image, with the trace.
/// </summary>
public sealed record CompositionResult(
    byte[] Png,
    double AugClipScore,
    byte[] CompositePng,
    IReadOnlyList<byte[]> ComponentPngs,
    CompositionTrace Trace,
    ImageProvenance Provenance)
{
    /// <summary>Where the run's time went; not part of the trace, which stays the same for the same seed.</summary>
    public CompositionTimings? Timings { get; init; }
}

/// <summary>Stage 1 of one component: wall time of its basis search and of its optimisation.</summary>
public sealed record ComponentTimings(TimeSpan BasisSearch, TimeSpan Optimizing);

/// <summary>
/// Wall time of a composed generation by phase, for finding where its cost goes (the CLI prints
/// it). The clocks are the host's: on a GPU a phase's kernels may still be running when its clock
/// stops, except where a value is read back (each inner step reads its loss).
/// </summary>
public sealed record CompositionTimings
{
    /// <summary>Stage 1, per component in the scene's order.</summary>
    public IReadOnlyList<ComponentTimings> Components { get; init; } = [];

    /// <summary>Stage 2's own parts (warm-up, targets, unrolled inner steps, upper objective, hypergradient).</summary>
    public FusionTimings Fusion { get; init; } = new();

    /// <summary>The scene's AugCLIP measured at the fusion's start and every <c>fusionScoreEvery</c> outer steps.</summary>
    public TimeSpan SceneMeasurements { get; init; }

    /// <summary>The end: rendering the fused image, the components and the composite, their final measurements and PNGs.</summary>
    public TimeSpan Final { get; init; }

    /// <summary>The whole run, from the scorers' text features to the result.</summary>
    public TimeSpan Total { get; init; }
}

/// <summary>Accumulated wall time of the fusion's parts (<see cref="SceneFusion"/>).</summary>
public sealed class FusionTimings
{
    /// <summary>The lower-level steps before the first outer step, their targets included.</summary>
    public TimeSpan Warmup { get; internal set; }

    /// <summary>The outer steps' targets mᵢ ⊙ G(combine(θᵢ)) and their crops' CLIP features (forward).</summary>
    public TimeSpan Targets { get; internal set; }

    /// <summary>The K unrolled lower-level steps per outer step (forward, with the inner gradients' graphs).</summary>
    public TimeSpan InnerSteps { get; internal set; }

    /// <summary>The upper objective on G(ξ_K) (forward).</summary>
    public TimeSpan UpperObjective { get; internal set; }

    /// <summary>The backward pass through the upper objective and the unrolled steps into θ, and θ's update.</summary>
    public TimeSpan Hypergradient { get; internal set; }
}
