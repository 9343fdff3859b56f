namespace FuseDream.Hosting;

/// <summary>Whether the service requires live workers (configuration section <c>Health</c>).</summary>
public sealed class HealthOptions
{
    public const string Section = "Health";

    /// <summary>
    /// <c>Health:RequireWorker</c>, default true (false in the Development environment): readiness
    /// needs at least one worker heartbeat, and a submit is refused unless a live worker serves
    /// its model. False is one-machine development mode, where a submit waits in its queue for
    /// a worker yet to start.
    /// </summary>
    public bool RequireWorker { get; set; } = true;
}
