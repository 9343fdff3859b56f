using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Reflection;

namespace FuseDream.Generation;

/// <summary>
/// Every knob of one generation, with the paper's defaults (FuseDream, arXiv 2112.01573,
/// <c>fusedream_generator.py</c>). Immutable; presets and API requests produce instances.
/// The <see cref="RangeAttribute"/>s are the one statement of each allowed range: validation,
/// the API's schema and the command line's help all read them.
/// </summary>
public sealed record GenerationOptions
{
    /// <summary>Model id of the generator: <c>biggan-256</c> or <c>biggan-512</c>.</summary>
    public string Model { get; init; } = Models.BigGan256;

    /// <summary>Rounds of random search for the initial basis (paper: 1000).</summary>
    [Range(1, 10_000)]
    public int BasisIterations { get; init; } = 1000;

    /// <summary>Random (z, class) samples scored per round (paper: 10).</summary>
    [Range(1, 256)]
    public int SamplesPerIteration { get; init; } = 10;

    /// <summary>Best samples kept as the basis of the over-parameterised latent (paper: 5).</summary>
    [Range(1, 64)]
    public int TopK { get; init; } = 5;

    /// <summary>Adam steps of the latent optimisation (paper: 1000).</summary>
    [Range(0, 10_000)]
    public int Steps { get; init; } = 1000;

    /// <summary>DiffAugment replicas per AugCLIP evaluation (paper: 50, the <c>replicate</c> of AugmentLoss).</summary>
    [Range(1, 256)]
    public int Augmentations { get; init; } = 50;

    /// <summary>Adam learning rate (paper: 5e-3).</summary>
    [Range(1e-6, 1.0)]
    public double LearningRate { get; init; } = 5e-3;

    /// <summary>Add N(0, 0.01²) noise to the combined z and y at each step (paper: on).</summary>
    public bool LatentNoise { get; init; } = true;

    /// <summary>Optimise the class embedding y as well as z (paper: on).</summary>
    public bool OptimizeY { get; init; } = true;

    /// <summary>Measure AugCLIP into the score trace every this many steps (0: only at the end).</summary>
    [Range(0, 10_000)]
    public int ScoreEvery { get; init; } = 50;

    /// <summary>Write a preview image every this many steps (0: none).</summary>
    [Range(0, 10_000)]
    public int PreviewEvery { get; init; }

    /// <summary>Augmentations used for the final AugCLIP measurement.</summary>
    [Range(1, 1024)]
    public int FinalAugmentations { get; init; } = 50;

    /// <summary>How the softmax weights start (<see cref="LatentInit"/>): <c>paper</c> (N(0, 1), the original's) or <c>best</c> (near the best basis sample; the default, measured better per step).</summary>
    public string Init { get; init; } = LatentInit.Best;

    /// <summary>Return the best latent measured every <see cref="ScoreEvery"/> steps rather than the last step's (off, as in the paper: it has not measured better).</summary>
    public bool KeepBest { get; init; }

    /// <summary>End the optimisation after this many measurements in a row without an improvement above <see cref="MinImprovement"/> (0: run every step, the paper's).</summary>
    [Range(0, 1000)]
    public int Patience { get; init; }

    /// <summary>The AugCLIP gain over the best measurement so far that counts as an improvement for <see cref="Patience"/>.</summary>
    [Range(0.0, 1.0)]
    public double MinImprovement { get; init; } = 0.001;

    /// <summary>
    /// Weighted prompts (<see cref="WeightedPrompts"/>: 1 to 8, weights in ±10 and not 0, at least
    /// one positive) scored in place of the request's one prompt; null: the request's prompt at weight 1.
    /// </summary>
    public ValueList<WeightedPrompt>? Prompts { get; init; }

    /// <summary>
    /// The CLIP models that score, with relative weights (1 to 3; the score is the weighted mean
    /// of each CLIP's); null: the worker's first CLIP alone.
    /// </summary>
    public ValueList<ClipWeight>? Clips { get; init; }

    /// <summary>The model ids the generator understands.</summary>
    public static class Models
    {
        public const string BigGan256 = "biggan-256";
        public const string BigGan512 = "biggan-512";
        public static readonly IReadOnlyList<string> All = [BigGan256, BigGan512];
    }

    /// <summary>Allowed ranges, read off the <see cref="RangeAttribute"/>s, for messages and help texts.</summary>
    public static class Limits
    {
        public static readonly (int Min, int Max) BasisIterations = IntRange(nameof(GenerationOptions.BasisIterations));
        public static readonly (int Min, int Max) SamplesPerIteration = IntRange(nameof(GenerationOptions.SamplesPerIteration));
        public static readonly (int Min, int Max) TopK = IntRange(nameof(GenerationOptions.TopK));
        public static readonly (int Min, int Max) Steps = IntRange(nameof(GenerationOptions.Steps));
        public static readonly (int Min, int Max) Augmentations = IntRange(nameof(GenerationOptions.Augmentations));
        public static readonly (double Min, double Max) LearningRate = RangeOf(nameof(GenerationOptions.LearningRate))!.Value;
        public static readonly (int Min, int Max) ScoreEvery = IntRange(nameof(GenerationOptions.ScoreEvery));
        public static readonly (int Min, int Max) PreviewEvery = IntRange(nameof(GenerationOptions.PreviewEvery));
        public static readonly (int Min, int Max) FinalAugmentations = IntRange(nameof(GenerationOptions.FinalAugmentations));
        public static readonly (int Min, int Max) Patience = IntRange(nameof(GenerationOptions.Patience));
        public static readonly (double Min, double Max) MinImprovement = RangeOf(nameof(GenerationOptions.MinImprovement))!.Value;

        private static (int Min, int Max) IntRange(string property)
        {
            var (min, max) = RangeOf(property)!.Value;
            return ((int)min, (int)max);
        }
    }

    /// <summary>The allowed range of option <paramref name="property"/> (a property name), or null when it has none.</summary>
    public static (double Min, double Max)? RangeOf(string property) =>
        typeof(GenerationOptions).GetProperty(property)?.GetCustomAttribute<RangeAttribute>() is { } range
            ? (Convert.ToDouble(range.Minimum, CultureInfo.InvariantCulture), Convert.ToDouble(range.Maximum, CultureInfo.InvariantCulture))
            : null;

    /// <summary>These options with every field <paramref name="overrides"/> sets replaced.</summary>
    public GenerationOptions With(GenerationOverrides? overrides) => overrides is null ? this : this with
    {
        BasisIterations = overrides.BasisIterations ?? BasisIterations,
        SamplesPerIteration = overrides.SamplesPerIteration ?? SamplesPerIteration,
        TopK = overrides.TopK ?? TopK,
        Steps = overrides.Steps ?? Steps,
        Augmentations = overrides.Augmentations ?? Augmentations,
        LearningRate = overrides.LearningRate ?? LearningRate,
        LatentNoise = overrides.LatentNoise ?? LatentNoise,
        OptimizeY = overrides.OptimizeY ?? OptimizeY,
        ScoreEvery = overrides.ScoreEvery ?? ScoreEvery,
        FinalAugmentations = overrides.FinalAugmentations ?? FinalAugmentations,
        Init = overrides.Init ?? Init,
        KeepBest = overrides.KeepBest ?? KeepBest,
        Patience = overrides.Patience ?? Patience,
        MinImprovement = overrides.MinImprovement ?? MinImprovement,
    };

    /// <summary>Every problem with these options as (field, reason); empty when valid.</summary>
    public IReadOnlyList<OptionError> Validate()
    {
        var errors = new List<OptionError>();
        if (!Models.All.Contains(Model))
            errors.Add(new(nameof(Model), $"unknown model '{Model}'; allowed: {string.Join(", ", Models.All)}"));
        foreach (var (property, range) in Ranged)
        {
            switch (property.GetValue(this))
            {
                case int value when value < (int)range.Minimum || value > (int)range.Maximum:
                    errors.Add(new(property.Name, $"must be between {range.Minimum} and {range.Maximum} (got {value})"));
                    break;
                case double value when !(value >= (double)range.Minimum && value <= (double)range.Maximum):
                    errors.Add(new(property.Name, $"must be between {range.Minimum:G} and {range.Maximum:G} (got {value:G})"));
                    break;
            }
        }
        if (!LatentInit.All.Contains(Init))
            errors.Add(new(nameof(Init), $"unknown start '{Init}'; allowed: {string.Join(", ", LatentInit.All)}"));
        if (Patience > 0 && ScoreEvery == 0)
            errors.Add(new(nameof(Patience), $"needs measurements to compare: set ScoreEvery above 0, or Patience to 0 (got Patience {Patience} with ScoreEvery 0)"));
        if (Prompts is not null)
            errors.AddRange(WeightedPrompts.Validate(Prompts));
        if (Clips is not null)
            errors.AddRange(ClipWeight.Validate(Clips));
        if (TopK > (long)BasisIterations * SamplesPerIteration)
            errors.Add(new(nameof(TopK), $"cannot exceed the number of basis samples, BasisIterations × SamplesPerIteration = {(long)BasisIterations * SamplesPerIteration} (got {TopK})"));
        return errors;
    }

    // In declaration order, so errors come in the order the options are documented.
    private static readonly (PropertyInfo Property, RangeAttribute Range)[] Ranged =
        [.. typeof(GenerationOptions).GetProperties()
            .OrderBy(p => p.MetadataToken)
            .Select(p => (p, p.GetCustomAttribute<RangeAttribute>()))
            .Where(x => x.Item2 is not null)
            .Select(x => (x.p, x.Item2!))];

    /// <summary>Throws <see cref="ArgumentException"/> listing every problem.</summary>
    public GenerationOptions EnsureValid()
    {
        var errors = Validate();
        if (errors.Count > 0)
            throw new ArgumentException("Invalid generation options: " + string.Join("; ", errors.Select(e => $"{e.Field}: {e.Reason}")));
        return this;
    }
}

/// <summary>One invalid option: which field, and why.</summary>
public sealed record OptionError(string Field, string Reason);
