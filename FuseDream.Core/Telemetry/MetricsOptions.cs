using System.ComponentModel.DataAnnotations;

namespace FuseDream.Telemetry;

/// <summary>The Prometheus endpoint of both processes (configuration section <c>Metrics</c>).</summary>
public sealed class MetricsOptions : IValidatableObject
{
    public const string Section = "Metrics";

    /// <summary>Serve <c>/metrics</c> (<c>Metrics:Enabled</c>): on the API's port, and on the worker's <see cref="Port"/>.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The port of the worker's own <c>/metrics</c> listener (<c>Metrics:Port</c>; 0 picks a free one, which the log names).</summary>
    public int Port { get; set; } = 9464;

    /// <summary>
    /// When set, a scrape must send <c>Authorization: Bearer {Key}</c> (<c>Metrics:Key</c>);
    /// unset (the default), <c>/metrics</c> is open, for a scraper on a private network.
    /// </summary>
    public string? Key { get; set; }

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Port is < 0 or > 65535)
            yield return new($"Metrics:Port is {Port}: use a TCP port (1-65535), or 0 for a free one.", [nameof(Port)]);
        if (Key is { Length: > 0 and < 16 })
            yield return new("Metrics:Key must be at least 16 characters (or unset for an open /metrics).", [nameof(Key)]);
    }
}
