using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using FuseDream.Hosting;
using FuseDream.Persistence;
using FuseDream.Worker;

namespace FuseDream.Api.Hosting;

/// <summary>Ready only when at least one worker has sent a heartbeat within <see cref="WorkerOptions.HeartbeatTimeout"/>.</summary>
/// <remarks>The answer counts workers without naming them (host names stay in the log and the heartbeat table).</remarks>
public sealed class WorkerHealthCheck(WorkerRegistry registry, IOptions<WorkerOptions> workers, IOptions<HealthOptions> health, ILogger<WorkerHealthCheck> logger) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        IReadOnlyList<WorkerRecord> live;
        try
        {
            live = await registry.GetLiveWorkersAsync(workers.Value.HeartbeatTimeout, cancellationToken);
        }
        catch (Exception ex) when (ex is Npgsql.NpgsqlException or TimeoutException)
        {
            logger.LogWarning(ex, "Health check workers: the heartbeats cannot be read");
            return HealthCheckResult.Unhealthy("Worker heartbeats cannot be read.");
        }
        if (live.Count > 0)
            return HealthCheckResult.Healthy($"{live.Count} worker(s) with {live.Sum(w => w.WorkerCount)} thread(s).");
        var message = $"No worker heartbeat in the last {workers.Value.HeartbeatTimeout.TotalSeconds:0} s: start a worker (FuseDream.Worker serve) or set Worker:InProcess=true.";
        return health.Value.RequireWorker ? HealthCheckResult.Unhealthy(message) : HealthCheckResult.Healthy(message + " (not required: Health:RequireWorker=false)");
    }
}
