using System.ComponentModel.DataAnnotations;
using System.Globalization;

namespace FuseDream.Generation;

/// <summary>
/// What one generation costs, in CLIP image evaluations: one image through CLIP's image tower,
/// the unit every phase of the run is made of (a BigGAN pass comes with each basis sample and
/// each step, so it scales with the same terms).
/// <list type="bullet">
/// <item>basis search: <c>BasisIterations × SamplesPerIteration</c>;</item>
/// <item>optimisation: <c>Steps × Augmentations</c> (each with a backward pass);</item>
/// <item>the score trace: <c>⌊Steps ÷ ScoreEvery⌋ × Augmentations</c> (none when ScoreEvery is 0);</item>
/// <item>the basis's and the final image's AugCLIP: <c>2 × FinalAugmentations</c>;</item>
/// <item>all of it once per CLIP of an ensemble (<see cref="GenerationOptions.Clips"/>); more prompts cost nothing here (their texts are encoded once).</item>
/// </list>
/// The paper's settings cost 61,100; every option at its maximum about 7.7 million.
/// </summary>
public static class GenerationCost
{
    /// <summary>The cost of a run with <paramref name="options"/>, in CLIP image evaluations.</summary>
    public static long Of(GenerationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        long basis = (long)options.BasisIterations * options.SamplesPerIteration;
        long steps = (long)options.Steps * options.Augmentations;
        long trace = options.ScoreEvery > 0 ? (long)(options.Steps / options.ScoreEvery) * options.Augmentations : 0;
        long measurements = 2L * options.FinalAugmentations;
        long clips = options.Clips?.Count is > 0 and var count ? count : 1;
        return (basis + steps + trace + measurements) * clips;
    }

    /// <summary>
    /// Why <paramref name="options"/> are refused under <paramref name="limit"/> (the cost, the
    /// limit and how to lower the cost), or null when the run fits.
    /// </summary>
    public static string? Problem(GenerationOptions options, GenerationLimits limit)
    {
        ArgumentNullException.ThrowIfNull(limit);
        var cost = Of(options);
        if (cost <= limit.MaxClipEvaluations) return null;
        var c = CultureInfo.InvariantCulture;
        return string.Format(c, "costs {0:N0} CLIP image evaluations, over this service's limit of {1:N0} ({2}:{3}). "
            + "The cost is (basisIterations × samplesPerIteration + steps × augmentations + ⌊steps ÷ scoreEvery⌋ × augmentations + 2 × finalAugmentations) × the number of CLIPs; "
            + "lower steps, augmentations, basisIterations or samplesPerIteration, score with fewer CLIPs, or start from a cheaper preset (balanced: {4:N0}, fast: {5:N0})",
            cost, limit.MaxClipEvaluations, GenerationLimits.Section, nameof(GenerationLimits.MaxClipEvaluations),
            Of(GenerationPresets.Balanced), Of(GenerationPresets.Fast));
    }
}

/// <summary>Limits on what one request may ask for (section <c>Generation</c>).</summary>
public sealed class GenerationLimits
{
    public const string Section = "Generation";

    /// <summary>The paper's cost (61,100) with room for larger final measurements and denser traces.</summary>
    public const long DefaultMaxClipEvaluations = 100_000;

    /// <summary>The most CLIP image evaluations one request may cost (<see cref="GenerationCost"/>).</summary>
    [Range(1, long.MaxValue)]
    public long MaxClipEvaluations { get; set; } = DefaultMaxClipEvaluations;
}
