using FuseDream.Generation;
using FuseDream.Persistence;
using FuseDream.Worker;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Prometheus;

namespace FuseDream.Telemetry;

/// <summary>
/// The service's own metrics (<c>fusedream_*</c>), in a registry of this host: counted by
/// <see cref="Generations.GenerationService"/> (submits, cancels of queued generations) and
/// <see cref="GenerationJob"/> (runs, outcomes, phases, retries), the heartbeat, and gauges read
/// from PostgreSQL at each scrape (generations by status, live workers). The process and
/// framework metrics (memory, GC, HTTP requests) are prometheus-net's default registry's;
/// <see cref="MetricsExposition"/> writes both. One registry per host keeps several hosts in
/// one process (the integration tests) from mixing their gauges.
/// </summary>
public sealed class FuseDreamMetrics
{
    private static readonly string[] Statuses = [.. Enum.GetValues<GenerationStatus>().Select(s => s.ToName())];

    public FuseDreamMetrics(GenerationRepository repository, WorkerRegistry workers, IOptions<WorkerOptions> workerOptions, ILogger<FuseDreamMetrics> logger)
    {
        Registry = Metrics.NewCustomRegistry();
        var factory = Metrics.WithCustomRegistry(Registry);
        Submitted = factory.CreateCounter("fusedream_generations_submitted_total", "Generations accepted (a new row and job; idempotent replays are not counted).", "model");
        Finished = factory.CreateCounter("fusedream_generations_finished_total", "Generations that reached a final state, by outcome (succeeded, failed, canceled).", "model", "outcome");
        Retries = factory.CreateCounter("fusedream_generation_retries_total",
            "Runs of a generation after its first: reason=transient (a database or disk failure, retried by the queue), redelivered (its worker died or stopped), requeued (its worker's heartbeat expired).", "reason");
        Heartbeats = factory.CreateCounter("fusedream_worker_heartbeats_total", "Heartbeats this worker wrote.", "worker");
        EndToEnd = factory.CreateHistogram("fusedream_generation_duration_seconds", "From submit to final state, by outcome.",
            new HistogramConfiguration { LabelNames = ["outcome"], Buckets = Histogram.ExponentialBuckets(0.25, 2, 17) });
        Phase = factory.CreateHistogram("fusedream_generation_phase_seconds", "Time spent in each phase: queued (submit to claim), loading, basis_search, optimizing, scoring, storing.",
            new HistogramConfiguration { LabelNames = ["phase"], Buckets = Histogram.ExponentialBuckets(0.01, 2, 20) });
        StepSeconds = factory.CreateHistogram("fusedream_optimization_step_seconds", "Mean seconds per latent-optimisation step of a run.",
            new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.0005, 2, 18) });
        BasisSampleSeconds = factory.CreateHistogram("fusedream_basis_sample_seconds", "Mean seconds per basis-search sample of a run.",
            new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.0001, 2, 18) });
        AugClip = factory.CreateHistogram("fusedream_generation_augclip_score", "Final AugCLIP score of succeeded generations.",
            new HistogramConfiguration { Buckets = Histogram.LinearBuckets(-0.1, 0.05, 16) });
        Queue = factory.CreateGauge("fusedream_generations", "Generations by status (queued is the queue's length), read from PostgreSQL at each scrape.", "status");
        LiveWorkers = factory.CreateGauge("fusedream_workers_live", "Worker processes with a fresh heartbeat, read from PostgreSQL at each scrape.");
        ScrapeErrors = factory.CreateCounter("fusedream_metrics_database_errors_total", "Scrapes whose PostgreSQL gauges could not be read (the gauges keep their last values).");

        var timeout = workerOptions.Value.HeartbeatTimeout;
        Registry.AddBeforeCollectCallback(async cancellationToken =>
        {
            try
            {
                var counts = await repository.CountByStatusAsync(cancellationToken);
                foreach (var status in Statuses)
                    Queue.WithLabels(status).Set(counts.GetValueOrDefault(status));
                LiveWorkers.Set((await workers.GetLiveWorkersAsync(timeout, cancellationToken)).Count);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                // A scrape while the database is down still answers: the process metrics and
                // counters are there, and this counter says the gauges are stale.
                ScrapeErrors.Inc();
                logger.LogWarning("Metrics: the generation and worker gauges could not be read: {Reason}", ex.Message);
            }
        });
    }

    /// <summary>This host's registry (the <c>fusedream_*</c> metrics).</summary>
    public CollectorRegistry Registry { get; }

    public Counter Submitted { get; }
    public Counter Finished { get; }
    public Counter Retries { get; }
    public Counter Heartbeats { get; }
    public Histogram EndToEnd { get; }
    public Histogram Phase { get; }
    public Histogram StepSeconds { get; }
    public Histogram BasisSampleSeconds { get; }
    public Histogram AugClip { get; }
    public Gauge Queue { get; }
    public Gauge LiveWorkers { get; }
    public Counter ScrapeErrors { get; }

    /// <summary>A generation reached a final state.</summary>
    public void Finish(GenerationRecord record, GenerationStatus outcome, DateTimeOffset? now = null)
    {
        var name = outcome.ToName();
        Finished.WithLabels(record.Model, name).Inc();
        EndToEnd.WithLabels(name).Observe(Math.Max(0, ((now ?? DateTimeOffset.UtcNow) - record.CreatedAt).TotalSeconds));
    }
}
