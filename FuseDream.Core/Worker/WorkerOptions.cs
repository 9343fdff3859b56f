using System.ComponentModel.DataAnnotations;

namespace FuseDream.Worker;

/// <summary>The generation worker (configuration section <c>Worker</c>).</summary>
public sealed class WorkerOptions : IValidatableObject
{
    public const string Section = "Worker";

    /// <summary>One-machine mode: the API process also runs the worker (<c>Worker:InProcess</c>).</summary>
    public bool InProcess { get; set; }

    /// <summary>Worker threads, one per GPU: each loads its own copy of the models (<c>Worker:Count</c>).</summary>
    [Range(1, 64, ErrorMessage = "Worker:Count must be between 1 and 64 (one per GPU).")]
    public int Count { get; set; } = 1;

    /// <summary>
    /// libtorch's intra-op CPU threads for this process (<c>Worker:Threads</c>): default the cores
    /// the process may use (<see cref="TorchThreads.Default"/>), 0 for libtorch's own choice. The
    /// worker threads of one process share them; two processes on the same cores should split them.
    /// </summary>
    [Range(0, 1024, ErrorMessage = "Worker:Threads must be between 0 (libtorch's choice) and 1024.")]
    public int? Threads { get; set; }

    /// <summary>Name in heartbeats and logs (<c>Worker:Name</c>); default: host name and process id.</summary>
    public string? Name { get; set; }

    /// <summary>How often the worker announces itself and its models (<c>Worker:HeartbeatInterval</c>).</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>A worker not heard from for this long is gone, for readiness and /v1/models (<c>Worker:HeartbeatTimeout</c>).</summary>
    public TimeSpan HeartbeatTimeout { get; set; } = TimeSpan.FromSeconds(45);

    /// <summary>Progress is written to PostgreSQL at most this often per job (<c>Worker:ProgressInterval</c>).</summary>
    public TimeSpan ProgressInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a stopping worker waits for its running job to stop before giving up on it (<c>Worker:ShutdownTimeout</c>).</summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(30);

    public string EffectiveName => string.IsNullOrWhiteSpace(Name) ? $"{Environment.MachineName}:{Environment.ProcessId}" : Name;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (HeartbeatInterval <= TimeSpan.Zero)
            yield return new("Worker:HeartbeatInterval must be positive.", [nameof(HeartbeatInterval)]);
        if (HeartbeatTimeout <= HeartbeatInterval)
            yield return new($"Worker:HeartbeatTimeout ({HeartbeatTimeout}) must be longer than Worker:HeartbeatInterval ({HeartbeatInterval}).", [nameof(HeartbeatTimeout)]);
        if (ProgressInterval < TimeSpan.Zero)
            yield return new("Worker:ProgressInterval must not be negative.", [nameof(ProgressInterval)]);
        if (ShutdownTimeout <= TimeSpan.Zero)
            yield return new("Worker:ShutdownTimeout must be positive.", [nameof(ShutdownTimeout)]);
    }
}
