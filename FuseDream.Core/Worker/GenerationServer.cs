using Hangfire;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using FuseDream.Persistence;
using FuseDream.Queue;

namespace FuseDream.Worker;

/// <summary>
/// The worker: builds the pipelines once (loading the models), then runs a Hangfire server
/// with one worker thread per pipeline on the queues of the models those pipelines loaded
/// (<see cref="QueueOptions.QueueOf"/>), so it never takes a job it cannot run. On stop, Hangfire cancels the
/// running jobs' tokens; <see cref="GenerationJob"/> puts its generation back to queued and
/// Hangfire returns the job to the queue. Timeouts nest: the host's shutdown timeout is
/// longer than <see cref="WorkerOptions.ShutdownTimeout"/>, which bounds Hangfire's stop.
/// </summary>
internal sealed class GenerationServer(
    GenerationQueue queue,
    PipelinePool pipelines,
    IGenerationPipelineFactory factory,
    IServiceScopeFactory scopes,
    IOptions<WorkerOptions> workerOptions,
    IOptions<QueueOptions> queueOptions,
    ILogger<GenerationServer> logger) : IHostedService, IAsyncDisposable
{
    private BackgroundJobServer? _server;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var worker = workerOptions.Value;
        logger.LogInformation("Loading {Count} generation pipeline(s)", worker.Count);
        pipelines.Start(factory, worker.Count);
        string[] queues = [.. QueuesOf(pipelines.Models)];
        _server = new BackgroundJobServer(
            new BackgroundJobServerOptions
            {
                ServerName = worker.EffectiveName,
                WorkerCount = worker.Count,
                Queues = queues,
                // On stop, cancel the running jobs' tokens at once (a generation can take many
                // minutes: it is requeued, not waited for), then give them ShutdownTimeout to
                // write their rows back before the server gives up on them.
                StopTimeout = TimeSpan.Zero,
                ShutdownTimeout = worker.ShutdownTimeout,
                SchedulePollingInterval = queueOptions.Value.SchedulePollingInterval,
                CancellationCheckInterval = TimeSpan.FromSeconds(1),
                FilterProvider = queue.Filters,
                Activator = new ScopedJobActivator(scopes),
            },
            queue.Storage);
        logger.LogInformation("Worker {Worker} serving queues {Queues} with {Count} thread(s); models: {Models}",
            worker.EffectiveName, string.Join(", ", queues), worker.Count, string.Join(", ", pipelines.Models));
        return Task.CompletedTask;
    }

    /// <summary>
    /// The queues of <paramref name="models"/>, then the shared queue of jobs enqueued before
    /// routing by model (a transition: once no job waits there, it stays empty).
    /// </summary>
    internal static IEnumerable<string> QueuesOf(IEnumerable<string> models) =>
        models.Select(QueueOptions.QueueOf).Append(QueueOptions.GpuQueue);

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_server is null) return;
        _server.SendStop();
        await _server.WaitForShutdownAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        _server?.Dispose();
        _server = null;
        await pipelines.DisposeAsync();
    }

    /// <summary>Creates each job in its own DI scope.</summary>
    private sealed class ScopedJobActivator(IServiceScopeFactory scopes) : JobActivator
    {
        public override JobActivatorScope BeginScope(JobActivatorContext context) => new Scope(scopes.CreateScope());

        private sealed class Scope(IServiceScope scope) : JobActivatorScope
        {
            public override object Resolve(Type type) => ActivatorUtilities.GetServiceOrCreateInstance(scope.ServiceProvider, type);

            public override void DisposeScope() => scope.Dispose();
        }
    }
}

/// <summary>Announces this worker and its models every <see cref="WorkerOptions.HeartbeatInterval"/>; removes the announcement on a clean stop.</summary>
internal sealed class WorkerHeartbeat(
    WorkerRegistry registry,
    PipelinePool pipelines,
    IOptions<WorkerOptions> options,
    Telemetry.FuseDreamMetrics metrics,
    ILogger<WorkerHeartbeat> logger) : BackgroundService
{
    private readonly DateTimeOffset _startedAt = DateTimeOffset.UtcNow;

    /// <summary>The first heartbeat is written before the host reports started, so a started worker is visible at once.</summary>
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        var worker = options.Value;
        await registry.HeartbeatAsync(worker.EffectiveName, pipelines.Models, pipelines.Clips, worker.Count, _startedAt, cancellationToken, pipelines.Precision);
        metrics.Heartbeats.WithLabels(worker.EffectiveName).Inc();
        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var worker = options.Value;
        using var timer = new PeriodicTimer(worker.HeartbeatInterval);
        while (await WaitAsync(timer, stoppingToken))
        {
            try
            {
                await registry.HeartbeatAsync(worker.EffectiveName, pipelines.Models, pipelines.Clips, worker.Count, _startedAt, stoppingToken, pipelines.Precision);
                metrics.Heartbeats.WithLabels(worker.EffectiveName).Inc();
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogWarning("Heartbeat of worker {Worker} failed: {Reason}", worker.EffectiveName, ex.Message);
            }
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        try
        {
            await registry.RemoveWorkerAsync(options.Value.EffectiveName, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.LogWarning("Could not remove the heartbeat of worker {Worker}: {Reason}", options.Value.EffectiveName, ex.Message);
        }
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken cancellationToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
