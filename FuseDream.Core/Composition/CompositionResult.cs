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
    ImageProvenance Provenance);
