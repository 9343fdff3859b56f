namespace FuseDream.Models;

/// <summary>How patient the downloader is. Defaults suit a real network; tests shorten the delays.</summary>
public sealed record ModelStoreOptions
{
    /// <summary>Attempts per source for transient failures (dropped connections, 5xx, 429, stalls) before moving on.</summary>
    public int MaxAttemptsPerSource { get; init; } = 4;

    /// <summary>Delay before the second attempt; doubles each time up to <see cref="MaxRetryDelay"/>.</summary>
    public TimeSpan InitialRetryDelay { get; init; } = TimeSpan.FromSeconds(2);

    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>A connection that delivers no byte (or no response headers) for this long is dropped and retried.</summary>
    public TimeSpan StallTimeout { get; init; } = TimeSpan.FromSeconds(60);

    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Minimum time between two progress reports.</summary>
    public TimeSpan ProgressInterval { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>How often a pull waiting for another pull of the same model re-checks the lock.</summary>
    public TimeSpan LockPollInterval { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Human-readable notes (retries, fallbacks, waits). The command line sends them to stderr.</summary>
    public Action<string>? Log { get; init; }

    /// <summary>
    /// Allow <c>http://</c> sources and redirects or confirmation hops to <c>http://</c>
    /// (<c>models pull --allow-insecure</c>). Downloads are verified either way.
    /// </summary>
    public bool AllowInsecureHttp { get; init; }

    /// <summary>
    /// Allow redirects and confirmation hops to hosts outside the source's domain and the hosts
    /// the catalog lists for it (<c>models pull --allow-insecure</c>).
    /// </summary>
    public bool AllowAnyRedirectHost { get; init; }

    /// <summary>Client to use instead of the shared one (its Timeout should be infinite: stalls are detected per read).</summary>
    public HttpClient? HttpClient { get; init; }

    internal void Validate()
    {
        if (MaxAttemptsPerSource < 1)
            throw new ArgumentOutOfRangeException(nameof(MaxAttemptsPerSource), MaxAttemptsPerSource, "Must be at least 1.");
        if (InitialRetryDelay < TimeSpan.Zero || MaxRetryDelay < InitialRetryDelay)
            throw new ArgumentOutOfRangeException(nameof(InitialRetryDelay), "Retry delays must be non-negative and InitialRetryDelay <= MaxRetryDelay.");
        if (StallTimeout <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(StallTimeout), StallTimeout, "Must be positive.");
    }
}
