using FuseDream.Generation;

namespace FuseDream.Composition;

/// <summary>A named starting point of a composed generation: stage 1's options (for every component) and stage 2's.</summary>
public sealed record CompositionPreset(GenerationOptions Components, CompositionOptions Fusion);

/// <summary>
/// Presets of a composed generation, under the single-prompt presets' names. Cost
/// (<see cref="CompositionCost"/>): n components × a single-prompt run, plus the fusion, whose
/// outer step costs about (K + 1) generator passes and K·n CLIP passes with second-order
/// gradients, plus (n + 1) × FusionAugmentations CLIP passes for the upper objective.
/// </summary>
public static class CompositionPresets
{
    /// <summary>Each component at the single-prompt <c>balanced</c> preset; 100 fusion steps, K = 3.</summary>
    public static readonly CompositionPreset Balanced = new(GenerationPresets.Balanced, new CompositionOptions());

    /// <summary>
    /// A quick draft: each component with 10 basis samples and 6 steps × 4 augmentations, no
    /// measurements along the way; 2 fusion steps at K = 1 (first order) after 3 warm-up steps,
    /// 2 augmentations per AugCLIP term, the scene measured only at the start and the end. The
    /// fusion's learning rates are larger than the defaults so that its few steps move θ and ξ.
    /// </summary>
    public static readonly CompositionPreset Fast = new(
        GenerationPresets.Fast with { BasisIterations = 1, Steps = 6, Augmentations = 4, ScoreEvery = 0, FinalAugmentations = 4 },
        new CompositionOptions
        {
            InnerSteps = 1, FusionSteps = 2, WarmupSteps = 3, FusionAugmentations = 2, FusionScoreEvery = 0,
            InnerLearningRate = 0.05, OuterLearningRate = 0.05,
        });

    /// <summary>Each component at the paper's settings; 200 fusion steps, K = 3, 16 augmentations per AugCLIP term.</summary>
    public static readonly CompositionPreset Paper = new(GenerationPresets.Paper,
        new CompositionOptions { FusionSteps = 200, FusionAugmentations = 16, FusionScoreEvery = 20 });

    public static readonly IReadOnlyDictionary<string, CompositionPreset> All =
        new Dictionary<string, CompositionPreset>(StringComparer.OrdinalIgnoreCase)
        {
            ["paper"] = Paper,
            ["balanced"] = Balanced,
            ["fast"] = Fast,
        };

    /// <summary>The preset by name; throws naming the known presets.</summary>
    public static CompositionPreset Get(string name) =>
        All.TryGetValue(name, out var preset)
            ? preset
            : throw new ArgumentException($"Unknown preset '{name}'; known presets: {string.Join(", ", All.Keys)}.");
}

/// <summary>
/// What a composed generation costs, in CLIP image evaluations (the unit of
/// <see cref="GenerationCost"/>), for n components:
/// n × <see cref="GenerationCost.Of"/>(options) for stage 1, then for the fusion
/// n × (1 + WarmupSteps) for the warm-up, FusionSteps × (n + K·n + (n + 1) × FusionAugmentations)
/// for the outer steps (targets, unrolled inner steps, upper objective), ⌊FusionSteps ÷ FusionScoreEvery⌋ × FusionAugmentations
/// for the trace, and (2 + n) × FinalAugmentations + FusionAugmentations for the final measurements.
/// </summary>
public static class CompositionCost
{
    public static long Of(GenerationOptions options, CompositionOptions composition, int components)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(composition);
        long n = components;
        var stage1 = n * GenerationCost.Of(options);
        var warmup = n * (1 + (long)composition.WarmupSteps);
        var outer = composition.FusionSteps * (n + composition.InnerSteps * n + (n + 1) * composition.FusionAugmentations);
        var trace = composition.FusionScoreEvery > 0 ? (long)(composition.FusionSteps / composition.FusionScoreEvery) * composition.FusionAugmentations : 0;
        var final = (2 + n) * options.FinalAugmentations + composition.FusionAugmentations;
        return stage1 + warmup + outer + trace + final;
    }
}
