namespace FuseDream.Generation;

/// <summary>
/// Named starting points. Cost is dominated by CLIP+BigGAN forward/backward passes:
/// basis search = BasisIterations × SamplesPerIteration forward passes (no gradients);
/// optimisation = Steps × (1 generator pass + Augmentations CLIP passes) with gradients.
/// </summary>
public static class GenerationPresets
{
    /// <summary>The paper's settings and algorithm: 10,000 basis samples, 1000 steps × 50 augmentations, N(0, 1) softmax weights, the last step's latent.</summary>
    public static readonly GenerationOptions Paper = new() { Init = LatentInit.Paper };

    /// <summary>About a fifth of the paper's cost: 2,000 basis samples, 300 steps × 32 augmentations (9,600 CLIP passes with gradients against 50,000).</summary>
    public static readonly GenerationOptions Balanced = new()
    {
        BasisIterations = 200, Steps = 300, Augmentations = 32, ScoreEvery = 25,
    };

    /// <summary>A quick draft: 500 basis samples, 100 steps × 16 augmentations.</summary>
    public static readonly GenerationOptions Fast = new()
    {
        BasisIterations = 50, Steps = 100, Augmentations = 16, ScoreEvery = 20, FinalAugmentations = 16,
    };

    public static readonly IReadOnlyDictionary<string, GenerationOptions> All =
        new Dictionary<string, GenerationOptions>(StringComparer.OrdinalIgnoreCase)
        {
            ["paper"] = Paper,
            ["balanced"] = Balanced,
            ["fast"] = Fast,
        };

    /// <summary>The preset by name; throws naming the known presets.</summary>
    public static GenerationOptions Get(string name) =>
        All.TryGetValue(name, out var options)
            ? options
            // No parameter name: the message is shown to users as is, without "(Parameter 'name')".
            : throw new ArgumentException($"Unknown preset '{name}'; known presets: {string.Join(", ", All.Keys)}.");
}
