using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Reflection;
using FuseDream.Generation;

namespace FuseDream.Composition;

/// <summary>
/// The knobs of a composed generation's fusion (stage 2, docs/composition.md); stage 1 runs each
/// component with the request's <see cref="GenerationOptions"/>. Immutable; the
/// <see cref="RangeAttribute"/>s are the one statement of each allowed range.
/// </summary>
public sealed record CompositionOptions
{
    /// <summary>K: lower-level Adam steps unrolled per outer step; the hypergradient goes back through all of them (1: first order).</summary>
    [Range(1, 10)]
    public int InnerSteps { get; init; } = 3;

    /// <summary>Outer (upper-level) steps over the components' latents.</summary>
    [Range(0, 10_000)]
    public int FusionSteps { get; init; } = 100;

    /// <summary>Lower-level steps before the first outer step, without a hypergradient (they bring ξ near ξ* and give Adam its moments).</summary>
    [Range(0, 1000)]
    public int WarmupSteps { get; init; } = 20;

    /// <summary>Adam learning rate of the lower level (the fused latent ξ).</summary>
    [Range(1e-6, 1.0)]
    public double InnerLearningRate { get; init; } = 0.02;

    /// <summary>Adam learning rate of the upper level (the components' latents θ).</summary>
    [Range(1e-6, 1.0)]
    public double OuterLearningRate { get; init; } = 5e-3;

    /// <summary>μ: the weight of the components' own AugCLIP terms (each on its box's crop) beside the scene's.</summary>
    [Range(0.0, 10.0)]
    public double ComponentWeight { get; init; } = 0.5;

    /// <summary>Weight of the masked pixel L2 term of the lower level's distance.</summary>
    [Range(0.0, 100.0)]
    public double PixelWeight { get; init; } = 1.0;

    /// <summary>Weight of the masked CLIP-image-feature term (1 − cosine on the box's crop) of the lower level's distance.</summary>
    [Range(0.0, 100.0)]
    public double FeatureWeight { get; init; } = 1.0;

    /// <summary>DiffAugment copies per AugCLIP term of the upper level, per outer step.</summary>
    [Range(1, 256)]
    public int FusionAugmentations { get; init; } = 8;

    /// <summary>Measure the scene's AugCLIP (over <see cref="FusionAugmentations"/> copies) into the trace every this many outer steps (0: only at the start and the end).</summary>
    [Range(0, 10_000)]
    public int FusionScoreEvery { get; init; } = 10;

    /// <summary>Default softness of a box's edges, as a fraction of the image's side (a component's own <c>feather</c> wins).</summary>
    [Range(0.0, 0.5)]
    public double Feather { get; init; } = 0.05;

    public const int MinComponents = 2;
    public const int MaxComponents = 4;

    /// <summary>The allowed range of option <paramref name="property"/>, or null when it has none.</summary>
    public static (double Min, double Max)? RangeOf(string property) =>
        typeof(CompositionOptions).GetProperty(property)?.GetCustomAttribute<RangeAttribute>() is { } range
            ? (Convert.ToDouble(range.Minimum, CultureInfo.InvariantCulture), Convert.ToDouble(range.Maximum, CultureInfo.InvariantCulture))
            : null;

    /// <summary>These options with every field <paramref name="overrides"/> sets replaced.</summary>
    public CompositionOptions With(CompositionOverrides? overrides) => overrides is null ? this : this with
    {
        InnerSteps = overrides.InnerSteps ?? InnerSteps,
        FusionSteps = overrides.FusionSteps ?? FusionSteps,
        WarmupSteps = overrides.WarmupSteps ?? WarmupSteps,
        InnerLearningRate = overrides.InnerLearningRate ?? InnerLearningRate,
        OuterLearningRate = overrides.OuterLearningRate ?? OuterLearningRate,
        ComponentWeight = overrides.ComponentWeight ?? ComponentWeight,
        PixelWeight = overrides.PixelWeight ?? PixelWeight,
        FeatureWeight = overrides.FeatureWeight ?? FeatureWeight,
        FusionAugmentations = overrides.FusionAugmentations ?? FusionAugmentations,
        FusionScoreEvery = overrides.FusionScoreEvery ?? FusionScoreEvery,
        Feather = overrides.Feather ?? Feather,
    };

    /// <summary>Every problem with these options as (field, reason); empty when valid.</summary>
    public IReadOnlyList<OptionError> Validate()
    {
        var errors = new List<OptionError>();
        foreach (var property in typeof(CompositionOptions).GetProperties().OrderBy(p => p.MetadataToken))
        {
            if (property.GetCustomAttribute<RangeAttribute>() is not { } range) continue;
            switch (property.GetValue(this))
            {
                case int value when value < (int)range.Minimum || value > (int)range.Maximum:
                    errors.Add(new(property.Name, $"must be between {range.Minimum} and {range.Maximum} (got {value})"));
                    break;
                case double value when !(value >= (double)range.Minimum && value <= (double)range.Maximum):
                    errors.Add(new(property.Name, string.Format(CultureInfo.InvariantCulture, "must be between {0:G} and {1:G} (got {2:G})", range.Minimum, range.Maximum, value)));
                    break;
            }
        }
        if (PixelWeight == 0 && FeatureWeight == 0)
            errors.Add(new(nameof(FeatureWeight), "the lower level needs a distance: PixelWeight and FeatureWeight cannot both be 0"));
        return errors;
    }

    /// <summary>Throws <see cref="ArgumentException"/> listing every problem.</summary>
    public CompositionOptions EnsureValid()
    {
        var errors = Validate();
        if (errors.Count > 0)
            throw new ArgumentException("Invalid composition options: " + string.Join("; ", errors.Select(e => $"{e.Field}: {e.Reason}")));
        return this;
    }
}

/// <summary>Composition settings that override a preset's; each null field keeps the preset's value.</summary>
public sealed record CompositionOverrides
{
    public int? InnerSteps { get; init; }
    public int? FusionSteps { get; init; }
    public int? WarmupSteps { get; init; }
    public double? InnerLearningRate { get; init; }
    public double? OuterLearningRate { get; init; }
    public double? ComponentWeight { get; init; }
    public double? PixelWeight { get; init; }
    public double? FeatureWeight { get; init; }
    public int? FusionAugmentations { get; init; }
    public int? FusionScoreEvery { get; init; }
    public double? Feather { get; init; }
}
