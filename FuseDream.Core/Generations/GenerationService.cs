using FuseDream.Access;
using FuseDream.Hosting;
using FuseDream.Persistence;
using FuseDream.Queue;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FuseDream.Generations;

/// <summary>
/// Submitting and canceling generations, for every front end (the HTTP API, the command
/// line, tests): the idempotent submit protocol (row first, then the job; adopting a row
/// whose request stopped before enqueueing; taking the row back when the queue refuses) and
/// cancellation of queued and running generations. Callers map the outcomes to their own
/// answers; nothing here knows HTTP.
/// </summary>
public sealed class GenerationService
{
    /// <summary>
    /// A queued row with no job this long after its creation was left by an interrupted
    /// request (the enqueue follows the commit within milliseconds).
    /// </summary>
    public static readonly TimeSpan UnqueuedAfter = TimeSpan.FromSeconds(30);

    private readonly GenerationSubmissions _submissions;
    private readonly GenerationStateMachine _states;
    private readonly GenerationRepository _repository;
    private readonly GenerationQueue _queue;
    private readonly ServingWorkers _servingWorkers;
    private readonly ILogger<GenerationService> _logger;
    private readonly AccessOptions _access;

    private readonly Telemetry.FuseDreamMetrics? _metrics;

    internal GenerationService(
        GenerationSubmissions submissions,
        GenerationStateMachine states,
        GenerationRepository repository,
        GenerationQueue queue,
        ServingWorkers servingWorkers,
        ILogger<GenerationService> logger,
        IOptions<AccessOptions>? access = null,
        Telemetry.FuseDreamMetrics? metrics = null)
    {
        _access = access?.Value ?? new AccessOptions();
        _metrics = metrics;
        _submissions = submissions;
        _states = states;
        _repository = repository;
        _queue = queue;
        _servingWorkers = servingWorkers;
        _logger = logger;
    }

    /// <summary>
    /// Stores and queues a generation on its model's queue; with <see cref="HealthOptions.RequireWorker"/>,
    /// a model no live worker serves is a <see cref="SubmitOutcome.NoWorker"/>. With an idempotency key, repeating the same submission
    /// returns the first generation (<see cref="SubmitOutcome.Accepted.Replayed"/>), and reusing
    /// the key for a different one is a <see cref="SubmitOutcome.KeyConflict"/>.
    /// </summary>
    public async Task<SubmitOutcome> SubmitAsync(GenerationSubmission submission, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(submission);
        // Before the protocol, storing nothing: a job waits on its model's queue, which only
        // workers serving the model take from.
        if (await _servingWorkers.RefusalAsync(submission.Options.Model, cancellationToken) is { } reason)
            return new SubmitOutcome.NoWorker(submission.Options.Model, reason);
        if (submission.Options.Clips is { } clips
            && await _servingWorkers.MissingClipsAsync(submission.Options.Model, clips, cancellationToken) is { Count: > 0 } missing)
            return new SubmitOutcome.ClipsUnavailable(missing);
        var seed = submission.Seed ?? Random.Shared.NextInt64(0, int.MaxValue);
        var row = new NewGeneration(Guid.CreateVersion7(), submission.IdempotencyKey, submission.RequestHash, submission.Prompt, seed, submission.Preset, submission.Options)
        {
            OwnerKeyId = submission.OwnerKeyId,
            WebhookUrl = submission.WebhookUrl,
            WebhookEvents = submission.WebhookEvents,
            Scene = submission.Scene,
        };
        GenerationRecord record;
        CreateOutcome outcome;
        if (submission.OwnerKeyId is null)
        {
            (outcome, record) = await _submissions.CreateAsync(row, cancellationToken);
        }
        else
        {
            // A key's generations in flight are bounded: each one holds a place in a GPU queue.
            var (quotaOutcome, created, active) = await _submissions.CreateWithinQuotaAsync(row, _access.MaxActiveGenerations, cancellationToken);
            if (quotaOutcome == CreateOutcome.TooManyActive)
                return new SubmitOutcome.TooManyActive(_access.MaxActiveGenerations, active);
            (outcome, record) = (quotaOutcome, created!);
        }
        switch (outcome)
        {
            case CreateOutcome.KeyConflict:
                return new SubmitOutcome.KeyConflict(record.Id);
            case CreateOutcome.Existing:
                // Durability boundary (replay): a queued row without a job, older than any
                // request in flight, was committed by a process that stopped before enqueueing.
                // The client's retry with the same key is what notices it: enqueue it now, once.
                // The adoption marks the row with its time; a replay that dies before enqueueing
                // leaves a marker that the next replay takes over once it is UnqueuedAfter old.
                if (record.Status == GenerationStatus.Queued
                    && (record.JobId is null || GenerationSubmissions.IsAdoptionMarker(record.JobId))
                    && await _submissions.TryAdoptUnqueuedAsync(record.Id, UnqueuedAfter, cancellationToken) is { } marker)
                {
                    try
                    {
                        var jobId = _queue.Enqueue(record.Id, record.Model);
                        // The first request may have died after enqueueing but before recording
                        // its job, so this can be the generation's second job. That is harmless:
                        // the row names one job (this one, or the other if it claimed the row
                        // first and recorded itself), and a job the row does not name claims
                        // nothing (GenerationStateMachine.ClaimAsync). Only one job ever runs it.
                        if (await _submissions.SetJobIdAsync(record.Id, jobId, CancellationToken.None))
                            _logger.LogWarning("Generation {GenerationId} had no job (its request was interrupted); enqueued it on the replay", record.Id);
                        else
                            DropSurplusJob(record.Id, jobId);
                    }
                    catch (Exception ex)
                    {
                        _logger.LogError(ex, "Could not enqueue generation {GenerationId}", record.Id);
                        await _submissions.ReleaseAdoptionAsync(record.Id, marker, CancellationToken.None);
                        return new SubmitOutcome.QueueUnavailable(Replayed: true);
                    }
                }
                return new SubmitOutcome.Accepted(await _repository.DescribeAsync(record, cancellationToken), Replayed: true);
        }

        try
        {
            // Durability boundary: the row is committed first, then the job is enqueued, so a
            // job never refers to a missing row. Dying between the two leaves a queued row with
            // no job; a replay with the same idempotency key enqueues it (above). Dying after the
            // enqueue but before recording the job id leaves a job the row does not name; the
            // replay then enqueues a second one, and whichever the row ends up naming is the
            // only one that runs (see the replay above).
            var jobId = _queue.Enqueue(record.Id, record.Model);
            await _submissions.SetJobIdAsync(record.Id, jobId, CancellationToken.None);
        }
        catch (Exception ex)
        {
            // Not queued: take the row back so the client (and a retry with the same key) starts clean.
            _logger.LogError(ex, "Could not enqueue generation {GenerationId}", record.Id);
            await _submissions.DeleteQueuedAsync(record.Id, CancellationToken.None);
            return new SubmitOutcome.QueueUnavailable(Replayed: false);
        }
        _metrics?.Submitted.WithLabels(record.Model).Inc();
        // The row as inserted: a worker may claim it at once, but this answer says it was queued.
        return new SubmitOutcome.Accepted(await _repository.DescribeAsync(record, cancellationToken), Replayed: false);
    }

    /// <summary>
    /// Queued → canceled at once; running → its worker is asked to stop (it stops within one
    /// step and marks the generation canceled); finished → unchanged. One statement decides
    /// (<see cref="GenerationStateMachine.CancelAsync"/>), so a worker claiming the generation at
    /// the same moment is ordered before or after it, never between two looks at the row.
    /// </summary>
    public Task<CancelOutcome> CancelAsync(Guid id, CancellationToken cancellationToken) => CancelAsync(id, null, cancellationToken);

    /// <summary>
    /// As <see cref="CancelAsync(Guid, CancellationToken)"/>, for a generation <paramref name="ownerKeyId"/>
    /// owns (null: any); another owner's generation is <see cref="CancelOutcome.NotFound"/> and is not touched.
    /// </summary>
    public async Task<CancelOutcome> CancelAsync(Guid id, string? ownerKeyId, CancellationToken cancellationToken)
    {
        // The owner of a row never changes, so looking first cannot race with the cancel below.
        if (ownerKeyId is not null && await _repository.GetAsync(id, ownerKeyId, cancellationToken) is null)
            return new CancelOutcome.NotFound();
        var record = await _states.CancelAsync(id, cancellationToken);
        if (record is null)
        {
            // Unknown, or finished before the cancel (finished states are final, so this stays true).
            var details = await _repository.GetDetailsAsync(id, cancellationToken);
            return details is null ? new CancelOutcome.NotFound() : new CancelOutcome.AlreadyFinished(details);
        }
        if (record.Status == GenerationStatus.Running)
            return new CancelOutcome.Requested(await _repository.DescribeAsync(record, cancellationToken));

        _metrics?.Finish(record, GenerationStatus.Canceled);
        // Canceled while queued. The row is already final (a job that still runs finds nothing
        // to do); dropping the queued job just saves a worker the trip.
        if (record.JobId is { } jobId && !GenerationSubmissions.IsAdoptionMarker(jobId))
        {
            try
            {
                _queue.Delete(jobId);
            }
            catch (Exception ex)
            {
                _logger.LogWarning("Could not drop job {JobId} of canceled generation {GenerationId}: {Reason}", jobId, id, ex.Message);
            }
        }
        return new CancelOutcome.Canceled(await _repository.DescribeAsync(record, cancellationToken));
    }

    /// <summary>A job enqueued for a generation that another job of its own already claimed: it would find nothing to do; dropping it saves a worker the trip.</summary>
    private void DropSurplusJob(Guid id, string jobId)
    {
        _logger.LogWarning("Generation {GenerationId} was already taken by another job of its own; dropping job {JobId}", id, jobId);
        try
        {
            _queue.Delete(jobId);
        }
        catch (Exception ex)
        {
            _logger.LogWarning("Could not drop surplus job {JobId} of generation {GenerationId}: {Reason}", jobId, id, ex.Message);
        }
    }
}
