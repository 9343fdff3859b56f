using System.Text.Json;
using System.Text.Json.Serialization;

namespace FuseDream.Generation;

/// <summary>
/// The score trace of one run as stored beside the image: the loss of every optimisation
/// step, AugCLIP where it was measured, the plain CLIP scores of the basis, and the final score.
/// </summary>
public sealed record ScoreTrace
{
    public required string Prompt { get; init; }
    public required long Seed { get; init; }
    public required GenerationOptions Options { get; init; }

    /// <summary>Plain CLIP cosine of each basis sample, best first.</summary>
    public IReadOnlyList<double> BasisScores { get; init; } = [];

    /// <summary>AugCLIP of the best basis sample (before optimisation), when measured.</summary>
    public double? BasisAugClip { get; init; }

    public IReadOnlyList<TracePoint> Points { get; init; } = [];

    public double? FinalAugClip { get; init; }

    /// <summary>With several prompts, each one's final AugCLIP in the options' order (<see cref="FinalAugClip"/> is their weighted sum).</summary>
    public IReadOnlyList<double>? FinalPromptAugClip { get; init; }

    /// <summary>Optimisation steps taken (fewer than the options' when it stopped early).</summary>
    public int? StepsRun { get; init; }

    /// <summary>Why the optimisation ended: <c>steps</c> (all ran) or <c>flat</c> (AugCLIP stopped improving).</summary>
    public string? StopReason { get; init; }

    /// <summary>The step whose latent is the image (the best measured one with KeepBest).</summary>
    public int? ResultStep { get; init; }

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static ScoreTrace FromJson(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        try
        {
            return JsonSerializer.Deserialize<ScoreTrace>(json, Json)
                ?? throw new InvalidDataException("the score trace JSON is empty (null)");
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"not a score trace: {ex.Message}", ex);
        }
    }
}
