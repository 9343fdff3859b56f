using System.ComponentModel.DataAnnotations;

namespace FuseDream.Access;

/// <summary>Per-key fair use (section <c>Access</c>): request rate and generations in flight.</summary>
public sealed class AccessOptions
{
    public const string Section = "Access";

    /// <summary>Requests one key may make per <see cref="RateWindow"/> (a token bucket: a burst of this many, refilled evenly).</summary>
    [Range(1, 1_000_000)]
    public int RequestsPerMinute { get; set; } = 120;

    /// <summary>The window the allowance refills over: one minute (tests shorten it).</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "01:00:00")]
    public TimeSpan RateWindow { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Generations one key may have queued or running at once; admin keys too.</summary>
    [Range(1, 100_000)]
    public int MaxActiveGenerations { get; set; } = 8;
}
