using System.ComponentModel.DataAnnotations;

namespace FuseDream.Webhooks;

/// <summary>Webhook delivery (section <c>Webhooks</c>).</summary>
public sealed class WebhookOptions
{
    public const string Section = "Webhooks";

    /// <summary>The Hangfire queue of deliveries: never a GPU queue, served by the API's own Hangfire server.</summary>
    public const string Queue = "webhooks";

    /// <summary>
    /// Hosts (names or IP addresses) a webhook may reach although they resolve to a loopback,
    /// private, link-local, CGNAT or metadata address, and that may be plain http: internal
    /// receivers an operator trusts. Empty by default: only public https receivers.
    /// </summary>
    public List<string> AllowedHosts { get; set; } = [];

    /// <summary>Attempts per event before it is recorded as failed.</summary>
    [Range(1, 50)]
    public int MaxAttempts { get; set; } = 8;

    /// <summary>The wait before the second attempt; each later wait doubles (10 s, 20 s, 40 s, … by default).</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "1.00:00:00")]
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long one attempt waits for the receiver's answer.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:05:00")]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>At most one progress event per generation this often; the latest progress is sent.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan ProgressInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How often the API hands new events to the delivery queue.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:01:00")]
    public TimeSpan DispatchInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Whether this process delivers webhooks (the API does; turn off to leave it to another API instance).</summary>
    public bool Deliver { get; set; } = true;

    /// <summary>The wait before attempt <paramref name="attempt"/> + 1, after <paramref name="attempt"/> failed: exponential back-off.</summary>
    public TimeSpan DelayAfter(int attempt) => RetryDelay * Math.Pow(2, Math.Max(0, attempt - 1));
}

/// <summary>The events a generation's webhook can receive.</summary>
public static class WebhookEvents
{
    public const string Start = "start", Progress = "progress", Completed = "completed";

    public static IReadOnlyList<string> All { get; } = [Start, Progress, Completed];

    /// <summary>Without <c>webhookEvents</c>, only the finish is sent.</summary>
    public static IReadOnlyList<string> Default { get; } = [Completed];
}
