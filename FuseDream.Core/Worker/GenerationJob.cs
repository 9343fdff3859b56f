using System.ComponentModel;
using FuseDream.Composition;
using FuseDream.Generation;
using FuseDream.Storage;
using Hangfire;
using Hangfire.Server;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Serilog.Context;
using FuseDream.Persistence;
using FuseDream.Queue;
using FuseDream.Telemetry;

namespace FuseDream.Worker;

/// <summary>
/// The Hangfire job of one generation. Hangfire delivers a job at least once (a worker that
/// dies mid-job has its job handed out again), so this method is re-entrant and idempotent:
/// whatever number of times it runs for an id, the generation ends with at most one result.
/// The comments marked "durability boundary" say what is safe if the process dies there.
/// </summary>
internal sealed class GenerationJob(
    GenerationStateMachine states,
    ProgressStore progressStore,
    IBlobStore blobs,
    PipelinePool pipelines,
    CancellationSignals signals,
    IOptions<WorkerOptions> workerOptions,
    IOptions<QueueOptions> queueOptions,
    FuseDreamMetrics metrics,
    ILogger<GenerationJob> logger)
{
    /// <summary>Runs the generation <paramref name="generationId"/>. Hangfire supplies <paramref name="context"/> and <paramref name="cancellationToken"/> (cancelled when the worker shuts down).</summary>
    [DisplayName("Generation {0}")]
    public async Task RunAsync(Guid generationId, PerformContext? context, CancellationToken cancellationToken)
    {
        using var _ = LogContext.PushProperty("GenerationId", generationId);
        var worker = workerOptions.Value;

        // Durability boundary: the claim. Nothing finished is claimed again, so a job
        // re-delivered after success (or after cancel/failure) ends here without running.
        // The claim also records this job's id on the row, and a job the row does not name
        // claims nothing: a submit that died between enqueueing and recording its job id,
        // replayed by its client, leaves two jobs for one generation, and only one may run it.
        // (Retries and re-deliveries of one job keep its id.)
        var jobId = context?.BackgroundJob?.Id;
        var record = await states.ClaimAsync(generationId, worker.EffectiveName, cancellationToken, jobId);
        if (record is null)
        {
            logger.LogInformation("Generation {GenerationId} is finished, unknown, or belongs to another job than {JobId}; nothing to do", generationId, jobId);
            return;
        }
        // A generation whose runs keep killing their workers (out of memory) ends here, failed,
        // instead of taking worker after worker down with it.
        var maxLosses = queueOptions.Value.MaxRetries;
        if (await states.FailLostTooOftenAsync(generationId, maxLosses,
                FailureReasons.For(string.Format(System.Globalization.CultureInfo.InvariantCulture, FailureReasons.WorkerLost, maxLosses + 1), generationId),
                CancellationToken.None) is { } lostTooOften)
        {
            metrics.Finish(lostTooOften, GenerationStatus.Failed);
            logger.LogError("Generation {GenerationId} failed: more than {Max} workers died running it", generationId, maxLosses);
            return;
        }
        if (record.Attempts > 1) metrics.Retries.WithLabels("rerun").Inc();
        else if (record.StartedAt is { } started) metrics.Phase.WithLabels("queued").Observe(Math.Max(0, (started - record.CreatedAt).TotalSeconds));
        if (record.CancelRequested)
        {
            if (await states.MarkCanceledAsync(generationId, CancellationToken.None)) metrics.Finish(record, GenerationStatus.Canceled);
            logger.LogInformation("Generation {GenerationId} was canceled before it started", generationId);
            return;
        }
        logger.LogInformation("Generation {GenerationId} started (attempt {Attempt}, model {Model}, seed {Seed})",
            generationId, record.Attempts, record.Model, record.Seed);

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var signal = signals.Register(generationId, stop);
        try
        {
            GenerationResult result;
            CompositionResult? composed = null;
            using (var lease = await pipelines.RentAsync(stop.Token))
            await using (var progress = new ThrottledProgressWriter(progressStore, generationId, worker.ProgressInterval, stop, logger))
            {
                var clock = new RunClock(progress);
                Task SavePreview(GenerationPreview preview, CancellationToken ct) => SavePreviewAsync(generationId, preview, ct);
                if (record.Scene is { } scene)
                {
                    // A composed generation runs on the same rented pipeline's models.
                    var models = lease.Pipeline as FuseDreamPipeline
                        ?? throw new NotSupportedException($"this worker's pipeline ({lease.Pipeline.GetType().Name}) cannot compose scenes");
                    composed = await new CompositionPipeline(models).RunAsync(
                        new CompositionRequest(record.Prompt, scene.Components, record.Seed, record.Options, scene.Composition), clock, SavePreview, stop.Token);
                    result = ToGenerationResult(composed, record);
                }
                else
                    result = await lease.Pipeline.RunAsync(new GenerationRequest(record.Prompt, record.Seed, record.Options), clock, SavePreview, stop.Token);
                clock.Record(metrics);
            }

            // Durability boundary: the image blob. It is flushed to disk before the row that
            // names it commits, so a succeeded row never points at a missing blob. If we die
            // after this, the blob is an orphan under its content hash; the re-run writes the
            // same key again (or another, if the run is not bit-reproducible) and commits once.
            // Only the write is retried, a few times within this run: a store that keeps
            // refusing fails the generation rather than sending the whole GPU run round again.
            // A composed generation's component images and composite go first, under the same
            // rule: every blob the committed row names is durable before it commits.
            string imageKey;
            ComposedImages? composedImages = null;
            var storing = System.Diagnostics.Stopwatch.StartNew();
            try
            {
                if (composed is not null)
                {
                    var componentKeys = new List<string>(composed.ComponentPngs.Count);
                    foreach (var png in composed.ComponentPngs) componentKeys.Add(await PutWithRetryAsync(generationId, png));
                    composedImages = new ComposedImages(componentKeys, await PutWithRetryAsync(generationId, composed.CompositePng), composed.Trace.ToJson());
                }
                imageKey = await PutWithRetryAsync(generationId, result.Png);
                metrics.Phase.WithLabels("storing").Observe(storing.Elapsed.TotalSeconds);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                var reason = TransientErrors.IsDiskFull(ex) ? FailureReasons.DiskFull : FailureReasons.NotStored;
                if (await states.MarkFailedAsync(generationId, FailureReasons.For(reason, generationId), CancellationToken.None))
                    metrics.Finish(record, GenerationStatus.Failed);
                logger.LogError(ex, "Generation {GenerationId} failed: its image could not be stored", generationId);
                return;
            }

            // Durability boundary: the result commit. One transaction, guarded by
            // the expected state running: exactly one run can commit; every later one finds it finished.
            if (await CommitWithRetryAsync(generationId, result, imageKey, composedImages))
            {
                metrics.Finish(record, GenerationStatus.Succeeded);
                metrics.AugClip.Observe(result.AugClipScore);
                logger.LogInformation("Generation {GenerationId} succeeded: AugCLIP {Score:F4}, image {ImageKey}",
                    generationId, result.AugClipScore, imageKey);
                return;
            }
            if (await progressStore.IsCancelRequestedAsync(generationId, CancellationToken.None)
                && await states.MarkCanceledAsync(generationId, CancellationToken.None))
            {
                metrics.Finish(record, GenerationStatus.Canceled);
                logger.LogInformation("Generation {GenerationId} was canceled as it finished; result discarded", generationId);
            }
            else
                logger.LogInformation("Generation {GenerationId} was already finished; this run's result is discarded", generationId);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            if (cancellationToken.IsCancellationRequested)
            {
                // Worker shutdown: hand the generation back. Rethrowing makes Hangfire return
                // the fetched job to the queue; the next worker claims it again from 'queued'.
                await states.RequeueAsync(generationId, null, CancellationToken.None);
                metrics.Retries.WithLabels("shutdown").Inc();
                logger.LogWarning("Worker stopping: generation {GenerationId} goes back to the queue", generationId);
                throw;
            }
            if (await states.MarkCanceledAsync(generationId, CancellationToken.None)) metrics.Finish(record, GenerationStatus.Canceled);
            logger.LogInformation("Generation {GenerationId} canceled", generationId);
        }
        catch (Exception ex) when (TransientErrors.IsTransient(ex))
        {
            var retries = context?.GetJobParameter<int>("RetryCount", allowStale: true) ?? 0;
            if (retries >= queueOptions.Value.MaxRetries)
            {
                if (await states.MarkFailedAsync(generationId,
                    FailureReasons.For($"Gave up after {retries + 1} attempts: {FailureReasons.StorageKeptFailing}", generationId), CancellationToken.None))
                    metrics.Finish(record, GenerationStatus.Failed);
                logger.LogError(ex, "Generation {GenerationId} failed after {Attempts} attempts", generationId, retries + 1);
                return;
            }
            // Transient: put the row back to queued and let Hangfire retry after a delay.
            await states.RequeueAsync(generationId, FailureReasons.For(FailureReasons.Retrying, generationId), CancellationToken.None);
            metrics.Retries.WithLabels("transient").Inc();
            logger.LogWarning(ex, "Generation {GenerationId} hit a transient failure; Hangfire will retry", generationId);
            throw;
        }
        catch (ClipNotLoadedException ex)
        {
            // Permanent on this worker: the request names a CLIP it has not loaded (no live
            // worker was known at submit, or the one that had it stopped). Said as such.
            if (await states.MarkFailedAsync(generationId, FailureReasons.For(FailureReasons.ClipNotLoaded, generationId), CancellationToken.None))
                metrics.Finish(record, GenerationStatus.Failed);
            logger.LogError(ex, "Generation {GenerationId} failed: {Reason}", generationId, ex.Message);
        }
        catch (Exception ex)
        {
            // Permanent: the same input would fail the same way, so record it and do not retry
            // (returning normally tells Hangfire the job is done). The client reads a category;
            // the exception (paths, driver and database messages) is in the log line below.
            if (await states.MarkFailedAsync(generationId, FailureReasons.For(FailureReasons.ModelsFailed, generationId), CancellationToken.None))
                metrics.Finish(record, GenerationStatus.Failed);
            logger.LogError(ex, "Generation {GenerationId} failed", generationId);
        }
    }

    /// <summary>
    /// A composed run as the row's result: the fused image and its score; the trace rows are the
    /// fusion's outer steps (loss −U, the scene's AugCLIP where measured), as <c>generate</c> plots them.
    /// </summary>
    private static GenerationResult ToGenerationResult(CompositionResult composed, GenerationRecord record) =>
        new(composed.Png, composed.AugClipScore, [.. composed.Trace.Fusion.Select(p => new TracePoint(p.Step, -p.Upper, p.SceneAugClip))],
            record.Seed, record.Options, [], [])
        {
            Provenance = composed.Provenance,
            StepsRun = composed.Trace.Fusion.Count,
        };

    private async Task SavePreviewAsync(Guid generationId, GenerationPreview preview, CancellationToken cancellationToken)
    {
        // Blob first, then the row that names it (same rule as the final image). A preview the
        // blob store refuses is skipped: it is not worth the run, and the final image's write
        // decides whether the generation can succeed.
        string key;
        try
        {
            key = await blobs.PutAsync(preview.Png, cancellationToken);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            logger.LogWarning(ex, "Generation {GenerationId}: the preview of step {Step} could not be stored; skipped", generationId, preview.Step);
            return;
        }
        await progressStore.SavePreviewAsync(generationId, preview.Step, key, cancellationToken);
    }

    /// <summary>Writes the image, retrying a transient I/O error twice; a full disk or a missing directory fails at once.</summary>
    private async Task<string> PutWithRetryAsync(Guid generationId, byte[] png)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await blobs.PutAsync(png, CancellationToken.None);
            }
            catch (IOException ex) when (attempt < 3 && TransientErrors.IsTransient(ex))
            {
                logger.LogWarning("Storing the image of generation {GenerationId} failed ({Reason}); retrying", generationId, ex.Message);
                await Task.Delay(TimeSpan.FromMilliseconds(200 * attempt));
            }
        }
    }

    /// <summary>The commit is idempotent (guarded), so a dropped connection is simply retried a few times before the job is.</summary>
    private async Task<bool> CommitWithRetryAsync(Guid generationId, GenerationResult result, string imageKey, ComposedImages? composed)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await states.CompleteAsync(generationId, result, imageKey, CancellationToken.None, composed);
            }
            catch (Exception ex) when (attempt < 3 && TransientErrors.IsTransient(ex))
            {
                logger.LogWarning("Committing the result of generation {GenerationId} failed ({Reason}); retrying", generationId, ex.Message);
                await Task.Delay(TimeSpan.FromMilliseconds(200 * attempt));
            }
        }
    }
}
