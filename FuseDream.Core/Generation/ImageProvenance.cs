using System.Reflection;

namespace FuseDream.Generation;

/// <summary>
/// Everything needed to reproduce an image, embedded in its PNG: the prompt (with weighted
/// prompts, their A1111 text; the exact list is <see cref="GenerationOptions.Prompts"/>), the seed, every
/// option, the SHA-256 of each model file, the device kind and the program version.
/// </summary>
public sealed record ImageProvenance
{
    public required string Prompt { get; init; }
    public required long Seed { get; init; }
    public required GenerationOptions Options { get; init; }

    /// <summary>Lower-case hex SHA-256 of each model file, by role (<c>clip</c>, <c>biggan</c>).</summary>
    public IReadOnlyDictionary<string, string> ModelSha256 { get; init; } = new Dictionary<string, string>();

    /// <summary>The device kind the image was computed on (<c>cpu</c>, <c>cuda</c>): results are reproducible per device kind.</summary>
    public string? Device { get; init; }

    /// <summary>What the models computed in (<c>fp32</c>, <c>bf16</c>): bf16 images differ slightly from fp32 ones.</summary>
    public string? Precision { get; init; }

    /// <summary>The final AugCLIP score, when known (with several prompts, the weighted score).</summary>
    public double? AugClipScore { get; init; }

    /// <summary>With several prompts (<see cref="GenerationOptions.Prompts"/>), each one's final AugCLIP, in their order.</summary>
    public IReadOnlyList<double>? PromptScores { get; init; }

    /// <summary>A composed generation's components (prompt, box, feather), background first; null for a single prompt.</summary>
    public IReadOnlyList<FuseDream.Composition.SceneComponent>? Components { get; init; }

    /// <summary>A composed generation's fusion options; null for a single prompt.</summary>
    public FuseDream.Composition.CompositionOptions? Composition { get; init; }

    public string ProgramVersion { get; init; } = CurrentProgramVersion;

    /// <summary>The informational version of this program (set by the build).</summary>
    public static string CurrentProgramVersion { get; } =
        typeof(ImageProvenance).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(ImageProvenance).Assembly.GetName().Version?.ToString()
        ?? "unknown";
}
