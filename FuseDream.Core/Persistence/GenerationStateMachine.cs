using System.Text.Json;
using FuseDream.Generation;
using Npgsql;
using NpgsqlTypes;
using static FuseDream.Persistence.GenerationRows;

namespace FuseDream.Persistence;

/// <summary>
/// Every change of a generation's status goes through <see cref="TransitionAsync"/>: one
/// guarded statement (<c>where status = any(expected)</c>) so that concurrent API calls and
/// re-run jobs cannot move a generation backwards or finish it twice. The one exception is
/// <see cref="CancelAsync"/>, the same kind of guarded statement with two branches (queued →
/// canceled, running → flagged), because a cancel must not be split around a claim. The
/// named transitions below say what entering each state writes besides the status.
/// </summary>
internal sealed class GenerationStateMachine(NpgsqlDataSource dataSource)
{
    /// <summary>Channel on which cancellation of a running generation is announced (payload: its id).</summary>
    public const string CancelChannel = "fusedream_cancel";

    /// <summary>
    /// Moves generation <paramref name="id"/> from one of <paramref name="expected"/> to
    /// <paramref name="to"/>, writing <paramref name="writes"/> in the same statement. Returns
    /// the row as it is afterwards, or null, changing nothing, when the row is unknown or in
    /// another state (or fails the writes' own guard). With <paramref name="transaction"/>
    /// the change commits with whatever else that transaction holds.
    /// </summary>
    public async Task<GenerationRecord?> TransitionAsync(
        Guid id, IReadOnlyCollection<GenerationStatus> expected, GenerationStatus to, StateWrites writes,
        CancellationToken cancellationToken, NpgsqlTransaction? transaction = null)
    {
        ArgumentOutOfRangeException.ThrowIfZero(expected.Count, nameof(expected));
        var sql =
            $"""
            update fusedream.generations
            set status = @to{(writes.Set is null ? "" : ", " + writes.Set)}
            where id = @id and status = any(@expected){(writes.Guard is null ? "" : " and " + writes.Guard)}
            returning {Columns}
            """;
        await using var command = transaction is null ? dataSource.CreateCommand(sql) : new NpgsqlCommand(sql, transaction.Connection, transaction);
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("to", to.ToName());
        command.Parameters.AddWithValue("expected", Names(expected));
        foreach (var parameter in writes.Parameters) command.Parameters.Add(parameter);
        return await ReadOneAsync(command, cancellationToken);
    }

    /// <summary>
    /// Takes the generation for this run: queued → running, or running → running again when a
    /// previous run of the same job died (the queue hands a job out again only once its
    /// invisibility timeout lapsed, so the earlier run is gone). Null when there is nothing to
    /// do: unknown id, already finished (a re-delivered job must not run twice), or, with
    /// <paramref name="jobId"/>, the row names another job.
    /// <para>
    /// A generation has one job; a second one exists only when a submit died after enqueueing
    /// but before recording its job id, and the client's replay enqueued again. So the claim
    /// records <paramref name="jobId"/> when the row names none (or only a replay's adoption
    /// marker), and a job whose id differs from the one the row names claims nothing: of two
    /// jobs for one generation only one ever runs it, and retries and re-deliveries of that job
    /// keep its id. Without <paramref name="jobId"/> (a run outside the queue) the row's job is
    /// not checked.
    /// </para>
    /// </summary>
    public Task<GenerationRecord?> ClaimAsync(Guid id, string worker, CancellationToken cancellationToken, string? jobId = null) =>
        TransitionAsync(id, [GenerationStatus.Queued, GenerationStatus.Running], GenerationStatus.Running,
            new StateWrites(
                // A claim of a running row is a re-delivery: the run before it died with its worker.
                "started_at = coalesce(started_at, now()), attempts = attempts + 1, worker = @worker, " +
                "worker_losses = worker_losses + case when status = 'running' then 1 else 0 end, " +
                "phase = null, step = null, total = null, aug_clip = null, eta_seconds = null, progress_at = null, " +
                "job_id = case when job_id is null or starts_with(job_id, @adopting) then coalesce(@job, job_id) else job_id end",
                Guard: "(@job::text is null or job_id is null or job_id = @job or starts_with(job_id, @adopting))")
                .With("worker", worker)
                .With("job", jobId)
                .With("adopting", GenerationSubmissions.AdoptionMarkerPrefix),
            cancellationToken);

    /// <summary>
    /// Commits the result in one transaction: running → succeeded, and its trace is stored.
    /// Guarded also by <c>not cancel_requested</c>: returns false, changing nothing, when the
    /// generation was already finished (a re-run) or canceled. The image blob must already be
    /// durable: this commit is what makes it visible. A composed generation also records its
    /// component images, naive composite (blobs as durable as the image) and composition trace.
    /// </summary>
    public async Task<bool> CompleteAsync(Guid id, GenerationResult result, string imageKey, CancellationToken cancellationToken,
        ComposedImages? composed = null)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var writes = new StateWrites(
                "finished_at = now(), score = @score, image_key = @image, seed = @seed, final_z = @z, final_y = @y, phase = @phase, error = null"
                + (composed is null ? "" : ", component_image_keys = @componentKeys, composite_image_key = @compositeKey, composition_trace = @compositionTrace::jsonb"),
                Guard: "not cancel_requested");
        if (composed is not null)
            writes = writes.With("componentKeys", composed.ComponentKeys.ToArray()).With("compositeKey", composed.CompositeKey).With("compositionTrace", composed.TraceJson);
        var succeeded = await TransitionAsync(id, [GenerationStatus.Running], GenerationStatus.Succeeded,
            writes
                .With("score", result.AugClipScore)
                .With("image", imageKey)
                .With("seed", result.Seed)
                .With("z", result.FinalZ)
                .With("y", result.FinalY)
                .With("phase", nameof(GenerationPhase.Finished)),
            cancellationToken, transaction);
        if (succeeded is null) return false;

        await using (var trace = new NpgsqlCommand(
            """
            insert into fusedream.generation_trace (generation_id, ordinal, step, loss, aug_clip, prompt_aug_clip)
            select @id, t.ordinal - 1, t.step, t.loss, t.aug, t.prompts::jsonb
            from unnest(@steps, @losses, @augs, @prompts) with ordinality as t(step, loss, aug, prompts, ordinal)
            """, connection, transaction))
        {
            trace.Parameters.AddWithValue("id", id);
            trace.Parameters.AddWithValue("steps", result.Trace.Select(p => p.Step).ToArray());
            trace.Parameters.AddWithValue("losses", result.Trace.Select(p => p.Loss).ToArray());
            trace.Parameters.Add(new NpgsqlParameter("augs", NpgsqlDbType.Array | NpgsqlDbType.Double)
            {
                Value = result.Trace.Select(p => p.AugClip is { } a ? (object)a : DBNull.Value).ToArray(),
            });
            trace.Parameters.Add(new NpgsqlParameter("prompts", NpgsqlDbType.Array | NpgsqlDbType.Text)
            {
                Value = result.Trace.Select(p => p.PromptAugClip is { } scores ? (object)JsonSerializer.Serialize(scores) : DBNull.Value).ToArray(),
            });
            await trace.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    /// <summary>
    /// The API's cancel, in one guarded statement so that it sees the row at one moment: a
    /// queued generation → canceled at once; a running one keeps its status and gets the flag
    /// its worker polls, and <see cref="CancelChannel"/> is notified in the same statement (the
    /// worker makes the transition, <see cref="MarkCanceledAsync"/>, once it has stopped).
    /// Returns the row as the cancel left it (status <see cref="GenerationStatus.Canceled"/> or
    /// <see cref="GenerationStatus.Running"/>), or null, changing nothing, when it is unknown or
    /// already finished. A claim racing it either runs first (the cancel then finds it running
    /// and flags it) or finds it canceled; the row locks order the two, the statement has no
    /// window between "was it queued?" and "was it running?".
    /// </summary>
    public async Task<GenerationRecord?> CancelAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            $"""
            with cancel as (
                update fusedream.generations
                set status = case when status = @queued then @canceled else status end,
                    cancel_requested = true,
                    finished_at = case when status = @queued then now() else finished_at end,
                    phase = case when status = @queued then null else phase end
                where id = @id and status = any(@expected)
                returning {Columns}),
            notified as (
                select pg_notify(@channel, id::text) from cancel where status = @running)
            select {Columns}, (select count(*) from notified) from cancel
            """);
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("queued", GenerationStatus.Queued.ToName());
        command.Parameters.AddWithValue("running", GenerationStatus.Running.ToName());
        command.Parameters.AddWithValue("canceled", GenerationStatus.Canceled.ToName());
        command.Parameters.AddWithValue("expected", Names([GenerationStatus.Queued, GenerationStatus.Running]));
        command.Parameters.AddWithValue("channel", CancelChannel);
        return await ReadOneAsync(command, cancellationToken);
    }

    /// <summary>Running (or queued) → canceled; false when it had already finished.</summary>
    public async Task<bool> MarkCanceledAsync(Guid id, CancellationToken cancellationToken) =>
        await TransitionAsync(id, [GenerationStatus.Queued, GenerationStatus.Running], GenerationStatus.Canceled,
            new StateWrites("finished_at = now(), error = null, eta_seconds = null"), cancellationToken) is not null;

    /// <summary>Running (or queued) → failed with a reason; false when it had already finished.</summary>
    public async Task<bool> MarkFailedAsync(Guid id, string error, CancellationToken cancellationToken) =>
        await TransitionAsync(id, [GenerationStatus.Queued, GenerationStatus.Running], GenerationStatus.Failed,
            new StateWrites("finished_at = now(), error = @error, eta_seconds = null").With("error", error), cancellationToken) is not null;

    /// <summary>
    /// Running → queued for a generation whose worker <paramref name="deadWorker"/> stopped
    /// heartbeating (crash recovery), counting the loss. Guarded by the worker's name: a
    /// generation another worker has claimed since is left alone. Null when nothing changed.
    /// </summary>
    public Task<GenerationRecord?> RequeueLostAsync(Guid id, string deadWorker, string reason, CancellationToken cancellationToken) =>
        TransitionAsync(id, [GenerationStatus.Running], GenerationStatus.Queued,
            new StateWrites("worker = null, phase = null, step = null, total = null, eta_seconds = null, progress_at = null, " +
                            "error = @reason, worker_losses = worker_losses + 1", Guard: "worker = @dead")
                .With("reason", reason)
                .With("dead", deadWorker),
            cancellationToken);

    /// <summary>
    /// Running → failed when more than <paramref name="maxLosses"/> workers died running this
    /// generation (it likely kills them: out of memory); a row under the limit is unchanged (null).
    /// </summary>
    public Task<GenerationRecord?> FailLostTooOftenAsync(Guid id, int maxLosses, string error, CancellationToken cancellationToken) =>
        TransitionAsync(id, [GenerationStatus.Running], GenerationStatus.Failed,
            new StateWrites("finished_at = now(), error = @error, eta_seconds = null", Guard: "worker_losses > @max")
                .With("error", error)
                .With("max", maxLosses),
            cancellationToken);

    /// <summary>Running → queued, for a job handed back to the queue (worker shutdown, transient failure to be retried).</summary>
    public Task RequeueAsync(Guid id, string? reason, CancellationToken cancellationToken) =>
        TransitionAsync(id, [GenerationStatus.Running], GenerationStatus.Queued,
            new StateWrites("worker = null, phase = null, step = null, total = null, eta_seconds = null, progress_at = null, error = @reason")
                .With("reason", reason),
            cancellationToken);
}

/// <summary>What a composed generation stores beside its fused image: each component's image and the naive composite (blob keys), and its <see cref="Composition.CompositionTrace"/> as JSON.</summary>
internal sealed record ComposedImages(IReadOnlyList<string> ComponentKeys, string CompositeKey, string TraceJson);

/// <summary>
/// What a transition writes besides the status (<paramref name="Set"/>, SQL assignments over
/// its own parameters) and any condition beyond the expected states (<paramref name="Guard"/>).
/// </summary>
internal sealed record StateWrites(string? Set, string? Guard = null)
{
    public List<NpgsqlParameter> Parameters { get; } = [];

    public StateWrites With(string name, object? value)
    {
        Parameters.Add(value is null ? new NpgsqlParameter(name, NpgsqlDbType.Text) { Value = DBNull.Value } : new NpgsqlParameter(name, value));
        return this;
    }
}
