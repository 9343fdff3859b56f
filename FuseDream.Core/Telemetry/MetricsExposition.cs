using Prometheus;

namespace FuseDream.Telemetry;

/// <summary>The text both processes answer <c>/metrics</c> with: the process's default registry (memory, GC, threads, framework meters such as ASP.NET Core's HTTP request durations), then this host's <see cref="FuseDreamMetrics"/>.</summary>
public static class MetricsExposition
{
    /// <summary>Prometheus' text exposition format.</summary>
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    public static async Task WriteAsync(Stream destination, FuseDreamMetrics metrics, CancellationToken cancellationToken)
    {
        await Metrics.DefaultRegistry.CollectAndExportAsTextAsync(destination, cancellationToken);
        await metrics.Registry.CollectAndExportAsTextAsync(destination, cancellationToken);
    }

    /// <summary>Whether a request may read the metrics: always when no key is configured; otherwise with <c>Authorization: Bearer {key}</c>.</summary>
    public static bool IsAllowed(MetricsOptions options, string? authorization)
    {
        if (string.IsNullOrEmpty(options.Key)) return true;
        if (authorization is null || !authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) return false;
        var given = System.Text.Encoding.UTF8.GetBytes(authorization["Bearer ".Length..].Trim());
        var expected = System.Text.Encoding.UTF8.GetBytes(options.Key);
        return System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(given, expected);
    }
}
