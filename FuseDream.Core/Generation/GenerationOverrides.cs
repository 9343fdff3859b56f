namespace FuseDream.Generation;

/// <summary>
/// Settings of the optimisation that override a preset's; each omitted (null) field keeps the
/// preset's value (<see cref="GenerationOptions.With"/>). The API's <c>options</c> object and the
/// command line's option flags both read into this.
/// </summary>
public sealed record GenerationOverrides
{
    /// <summary>Rounds of random search for the initial basis (paper: 1000).</summary>
    public int? BasisIterations { get; init; }

    /// <summary>Random (z, class) samples scored per round (paper: 10); basis samples = basisIterations × samplesPerIteration.</summary>
    public int? SamplesPerIteration { get; init; }

    /// <summary>Best samples kept as the basis of the over-parameterised latent (paper: 5).</summary>
    public int? TopK { get; init; }

    /// <summary>Adam steps of the latent optimisation (paper: 1000).</summary>
    public int? Steps { get; init; }

    /// <summary>DiffAugment replicas per AugCLIP evaluation (paper: 50).</summary>
    public int? Augmentations { get; init; }

    /// <summary>Adam learning rate (paper: 0.005).</summary>
    public double? LearningRate { get; init; }

    /// <summary>Add N(0, 0.01²) noise to the latents at each step (paper: true).</summary>
    public bool? LatentNoise { get; init; }

    /// <summary>Optimise the class embedding as well as z (paper: true).</summary>
    public bool? OptimizeY { get; init; }

    /// <summary>Measure AugCLIP into the score trace every this many steps (0: only at the end).</summary>
    public int? ScoreEvery { get; init; }

    /// <summary>Augmentations used for the final AugCLIP measurement.</summary>
    public int? FinalAugmentations { get; init; }

    /// <summary>How the softmax weights start: <c>paper</c> (N(0, 1), the original's) or <c>best</c> (near the best basis sample).</summary>
    public string? Init { get; init; }

    /// <summary>Return the best latent measured every scoreEvery steps rather than the last step's.</summary>
    public bool? KeepBest { get; init; }

    /// <summary>End after this many measurements in a row without an improvement above minImprovement (0: run every step).</summary>
    public int? Patience { get; init; }

    /// <summary>The AugCLIP gain that counts as an improvement for patience.</summary>
    public double? MinImprovement { get; init; }
}
