namespace FuseDream.Generation;

/// <summary>
/// Every knob of one generation, with the paper's defaults (FuseDream, arXiv 2112.01573,
/// <c>fusedream_generator.py</c>). Immutable; presets and API requests produce instances.
/// </summary>
public sealed record GenerationOptions
{
    /// <summary>Model id of the generator: <c>biggan-256</c> or <c>biggan-512</c>.</summary>
    public string Model { get; init; } = Models.BigGan256;

    /// <summary>Rounds of random search for the initial basis (paper: 1000).</summary>
    public int BasisIterations { get; init; } = 1000;

    /// <summary>Random (z, class) samples scored per round (paper: 10).</summary>
    public int SamplesPerIteration { get; init; } = 10;

    /// <summary>Best samples kept as the basis of the over-parameterised latent (paper: 5).</summary>
    public int TopK { get; init; } = 5;

    /// <summary>Adam steps of the latent optimisation (paper: 1000).</summary>
    public int Steps { get; init; } = 1000;

    /// <summary>DiffAugment replicas per AugCLIP evaluation (paper: 50, the <c>replicate</c> of AugmentLoss).</summary>
    public int Augmentations { get; init; } = 50;

    /// <summary>Adam learning rate (paper: 5e-3).</summary>
    public double LearningRate { get; init; } = 5e-3;

    /// <summary>Add N(0, 0.01²) noise to the combined z and y at each step (paper: on).</summary>
    public bool LatentNoise { get; init; } = true;

    /// <summary>Optimise the class embedding y as well as z (paper: on).</summary>
    public bool OptimizeY { get; init; } = true;

    /// <summary>Measure AugCLIP into the score trace every this many steps (0: only at the end).</summary>
    public int ScoreEvery { get; init; } = 50;

    /// <summary>Write a preview image every this many steps (0: none).</summary>
    public int PreviewEvery { get; init; }

    /// <summary>Augmentations used for the final AugCLIP measurement.</summary>
    public int FinalAugmentations { get; init; } = 50;

    /// <summary>The model ids the generator understands.</summary>
    public static class Models
    {
        public const string BigGan256 = "biggan-256";
        public const string BigGan512 = "biggan-512";
        public static readonly IReadOnlyList<string> All = [BigGan256, BigGan512];
    }

    /// <summary>Allowed ranges, shared by validation, the API's schema and the docs.</summary>
    public static class Limits
    {
        public static readonly (int Min, int Max) BasisIterations = (1, 10_000);
        public static readonly (int Min, int Max) SamplesPerIteration = (1, 256);
        public static readonly (int Min, int Max) TopK = (1, 64);
        public static readonly (int Min, int Max) Steps = (0, 10_000);
        public static readonly (int Min, int Max) Augmentations = (1, 256);
        public static readonly (double Min, double Max) LearningRate = (1e-6, 1.0);
        public static readonly (int Min, int Max) ScoreEvery = (0, 10_000);
        public static readonly (int Min, int Max) PreviewEvery = (0, 10_000);
        public static readonly (int Min, int Max) FinalAugmentations = (1, 1024);
    }

    /// <summary>Every problem with these options as (field, reason); empty when valid.</summary>
    public IReadOnlyList<OptionError> Validate()
    {
        var errors = new List<OptionError>();
        if (!Models.All.Contains(Model))
            errors.Add(new(nameof(Model), $"unknown model '{Model}'; allowed: {string.Join(", ", Models.All)}"));
        Range(errors, nameof(BasisIterations), BasisIterations, Limits.BasisIterations);
        Range(errors, nameof(SamplesPerIteration), SamplesPerIteration, Limits.SamplesPerIteration);
        Range(errors, nameof(TopK), TopK, Limits.TopK);
        Range(errors, nameof(Steps), Steps, Limits.Steps);
        Range(errors, nameof(Augmentations), Augmentations, Limits.Augmentations);
        if (!(LearningRate >= Limits.LearningRate.Min && LearningRate <= Limits.LearningRate.Max))
            errors.Add(new(nameof(LearningRate), $"must be between {Limits.LearningRate.Min:G} and {Limits.LearningRate.Max:G} (got {LearningRate:G})"));
        Range(errors, nameof(ScoreEvery), ScoreEvery, Limits.ScoreEvery);
        Range(errors, nameof(PreviewEvery), PreviewEvery, Limits.PreviewEvery);
        Range(errors, nameof(FinalAugmentations), FinalAugmentations, Limits.FinalAugmentations);
        if (TopK > (long)BasisIterations * SamplesPerIteration)
            errors.Add(new(nameof(TopK), $"cannot exceed the number of basis samples, BasisIterations × SamplesPerIteration = {(long)BasisIterations * SamplesPerIteration} (got {TopK})"));
        return errors;
    }

    /// <summary>Throws <see cref="ArgumentException"/> listing every problem.</summary>
    public GenerationOptions EnsureValid()
    {
        var errors = Validate();
        if (errors.Count > 0)
            throw new ArgumentException("Invalid generation options: " + string.Join("; ", errors.Select(e => $"{e.Field}: {e.Reason}")));
        return this;
    }

    private static void Range(List<OptionError> errors, string field, int value, (int Min, int Max) range)
    {
        if (value < range.Min || value > range.Max)
            errors.Add(new(field, $"must be between {range.Min} and {range.Max} (got {value})"));
    }
}

/// <summary>One invalid option: which field, and why.</summary>
public sealed record OptionError(string Field, string Reason);
