using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using FuseDream.Persistence;
using FuseDream.Queue;
using FuseDream.Telemetry;

namespace FuseDream.Worker;

/// <summary>
/// Hands the generations of a dead worker to the next free one promptly and before younger
/// jobs. The API and every worker process run this loop: each <see cref="WorkerOptions.HeartbeatInterval"/>
/// it looks for running generations whose worker has had no heartbeat for
/// <see cref="WorkerOptions.HeartbeatTimeout"/> (killed, out of memory, machine lost), puts each
/// back to queued (counting the loss on the row) and marks its Hangfire queue entry
/// never-fetched (<see cref="GenerationQueue.ReleaseFetchedAsync"/>), so it is handed out next,
/// ahead of every job submitted after it, instead of after the queue's invisibility timeout and
/// behind all of them. Several workers may do this at once: the guarded transition lets one win.
/// A generation whose runs keep killing their workers is failed by the job once
/// <see cref="QueueOptions.MaxRetries"/> losses have passed.
/// </summary>
internal sealed class CrashRecovery(
    WorkerRegistry registry,
    GenerationStateMachine states,
    GenerationQueue queue,
    FuseDreamMetrics metrics,
    IOptions<WorkerOptions> options,
    ILogger<CrashRecovery> logger) : BackgroundService
{
    // Reachable since the process started, until a pass fails.
    private DateTimeOffset? _databaseUpSince = DateTimeOffset.MinValue;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var worker = options.Value;
        using var timer = new PeriodicTimer(worker.HeartbeatInterval);
        do
        {
            try
            {
                await RecoverAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                _databaseUpSince = null;
                logger.LogWarning("Crash recovery could not look for lost generations: {Reason}", ex.Message);
            }
        }
        while (await WaitAsync(timer, stoppingToken));
    }

    /// <summary>One pass; returns the generations it put back in the queue.</summary>
    internal async Task<IReadOnlyList<Guid>> RecoverAsync(CancellationToken cancellationToken)
    {
        var worker = options.Value;
        var lost = await registry.GetLostGenerationsAsync(worker.HeartbeatTimeout, cancellationToken);
        // After the database was unreachable, every worker's heartbeat looks old until its next
        // beat: wait two intervals of reachable database before judging anyone dead.
        var now = DateTimeOffset.UtcNow;
        _databaseUpSince ??= now;
        if (now - _databaseUpSince < 2 * worker.HeartbeatInterval) return [];

        var recovered = new List<Guid>();
        foreach (var generation in lost)
        {
            var reason = $"Its worker {generation.Worker} stopped (no heartbeat for {worker.HeartbeatTimeout.TotalSeconds:0} s); queued again, ahead of younger jobs.";
            if (await states.RequeueLostAsync(generation.Id, generation.Worker, reason, cancellationToken) is null) continue;
            // Row first, then the queue entry: a worker that fetches the job at once claims it from queued.
            var released = generation.JobId is { } jobId && await queue.ReleaseFetchedAsync(jobId, cancellationToken);
            metrics.Retries.WithLabels("requeued").Inc();
            recovered.Add(generation.Id);
            logger.LogWarning("Generation {GenerationId} was running on worker {Worker}, which stopped heartbeating; queued again (job {JobId} {Released})",
                generation.Id, generation.Worker, generation.JobId, released ? "released to the front of its queue" : "not in the queue: it is re-delivered after its invisibility timeout");
        }
        return recovered;
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken stoppingToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(stoppingToken);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
