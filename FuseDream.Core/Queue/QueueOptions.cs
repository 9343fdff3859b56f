using System.ComponentModel.DataAnnotations;

namespace FuseDream.Queue;

/// <summary>The Hangfire queue on PostgreSQL (configuration section <c>Queue</c>).</summary>
internal sealed class QueueOptions : IValidatableObject
{
    public const string Section = "Queue";

    /// <summary>
    /// The one queue every generation job went to before jobs were routed by model. Workers
    /// still listen on it so that jobs enqueued there by an older API are served; nothing new
    /// is enqueued on it. A job there may reach a worker that lacks its model.
    /// </summary>
    public const string GpuQueue = "gpu";

    /// <summary>
    /// The Hangfire queue of a model's jobs (<c>biggan-512</c> → <c>gpu_biggan_512</c>); a worker
    /// listens on the queues of the models its pipelines loaded, so it never takes a job it cannot run.
    /// </summary>
    public static string QueueOf(string model)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(model);
        var queue = GpuQueue + "_" + model.ToLowerInvariant().Replace('-', '_').Replace('.', '_');
        // Hangfire's rule for queue names.
        if (!System.Text.RegularExpressions.Regex.IsMatch(queue, "^[a-z0-9_]+$"))
            throw new ArgumentException($"Model id '{model}' cannot name a queue: use letters, digits, '-', '.' and '_'.", nameof(model));
        return queue;
    }

    /// <summary>PostgreSQL schema of Hangfire's tables (<c>Queue:Schema</c>).</summary>
    [Required, RegularExpression("^[a-z_][a-z0-9_]*$", ErrorMessage = "Queue:Schema must be a lower-case SQL identifier.")]
    public string Schema { get; set; } = "hangfire";

    /// <summary>How often an idle worker polls the queue; enqueueing also wakes it through LISTEN/NOTIFY (<c>Queue:PollInterval</c>).</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// A fetched job whose worker stops renewing it for this long is handed to another worker
    /// (<c>Queue:InvisibilityTimeout</c>). Sliding: a live worker keeps extending it, so long
    /// jobs are not duplicated; only a dead worker's job reappears.
    /// </summary>
    public TimeSpan InvisibilityTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Retries after a transient failure (database or disk hiccup); invalid requests are never retried (<c>Queue:MaxRetries</c>).</summary>
    [Range(0, 20)]
    public int MaxRetries { get; set; } = 3;

    /// <summary>Delay before each retry, in seconds (<c>Queue:RetryDelaysSeconds</c>, e.g. <c>Queue__RetryDelaysSeconds__0=10</c>); unset: 10, 60, 300.</summary>
    public int[]? RetryDelaysSeconds { get; set; }

    /// <summary>The configured delays, or the defaults. (A default in the property itself would be appended to, not replaced, by configuration binding.)</summary>
    public int[] EffectiveRetryDelaysSeconds => RetryDelaysSeconds is { Length: > 0 } delays ? delays : [10, 60, 300];

    /// <summary>How often delayed retries are moved back to the queue (<c>Queue:SchedulePollingInterval</c>).</summary>
    public TimeSpan SchedulePollingInterval { get; set; } = TimeSpan.FromSeconds(5);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (PollInterval <= TimeSpan.Zero)
            yield return new("Queue:PollInterval must be positive.", [nameof(PollInterval)]);
        if (InvisibilityTimeout < TimeSpan.FromSeconds(1))
            yield return new("Queue:InvisibilityTimeout must be at least one second.", [nameof(InvisibilityTimeout)]);
        if (SchedulePollingInterval <= TimeSpan.Zero)
            yield return new("Queue:SchedulePollingInterval must be positive.", [nameof(SchedulePollingInterval)]);
        if (RetryDelaysSeconds is not null && RetryDelaysSeconds.Any(d => d < 0))
            yield return new("Queue:RetryDelaysSeconds must list non-negative numbers of seconds.", [nameof(RetryDelaysSeconds)]);
    }
}
