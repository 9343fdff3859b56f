using System.Text.Json;
using FuseDream.Generation;
using Npgsql;
using NpgsqlTypes;

namespace FuseDream.Persistence;

/// <summary>What <see cref="GenerationStore.CreateAsync"/> did.</summary>
public enum CreateOutcome
{
    /// <summary>A new row was inserted.</summary>
    Created,
    /// <summary>The idempotency key was seen before with the same request: that generation is returned.</summary>
    Existing,
    /// <summary>The idempotency key was seen before with a different request.</summary>
    KeyConflict,
}

/// <summary>What <see cref="GenerationStore.CancelAsync"/> did.</summary>
public enum CancelOutcome
{
    NotFound,
    /// <summary>It was queued and is now canceled.</summary>
    Canceled,
    /// <summary>It is running; the worker was asked to stop.</summary>
    Requested,
    /// <summary>It had already finished; nothing changed.</summary>
    AlreadyFinished,
}

/// <summary>
/// Every SQL statement on generations, previews, traces and worker heartbeats. State changes
/// are single guarded statements (<c>where status = …</c>) so that concurrent API calls and
/// re-run jobs cannot move a generation backwards or finish it twice.
/// </summary>
public sealed class GenerationStore(NpgsqlDataSource dataSource)
{
    /// <summary>Channel on which cancellation of a running generation is announced (payload: its id).</summary>
    public const string CancelChannel = "fusedream_cancel";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private const string Columns =
        "id, seq, idempotency_key, request_hash, prompt, model, seed, preset, options, status, cancel_requested, attempts, " +
        "worker, job_id, created_at, started_at, finished_at, phase, step, total, aug_clip, eta_seconds, progress_at, score, image_key, error";

    // ---- API side ------------------------------------------------------------------------

    /// <summary>
    /// Inserts a queued generation. With an idempotency key, a second insert with the same key
    /// returns the first row (<see cref="CreateOutcome.Existing"/> when the request hash matches,
    /// <see cref="CreateOutcome.KeyConflict"/> when it does not); the unique index makes this
    /// safe under concurrent requests.
    /// </summary>
    public async Task<(CreateOutcome Outcome, GenerationRecord Record)> CreateAsync(NewGeneration generation, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            $"""
            insert into fusedream.generations (id, idempotency_key, request_hash, prompt, model, seed, preset, options)
            values (@id, @key, @hash, @prompt, @model, @seed, @preset, @options)
            on conflict (idempotency_key) do nothing
            returning {Columns}
            """);
        command.Parameters.AddWithValue("id", generation.Id);
        command.Parameters.AddWithValue("key", (object?)generation.IdempotencyKey ?? DBNull.Value);
        command.Parameters.AddWithValue("hash", generation.RequestHash);
        command.Parameters.AddWithValue("prompt", generation.Prompt);
        command.Parameters.AddWithValue("model", generation.Options.Model);
        command.Parameters.AddWithValue("seed", generation.Seed);
        command.Parameters.AddWithValue("preset", (object?)generation.Preset ?? DBNull.Value);
        command.Parameters.Add(new NpgsqlParameter("options", NpgsqlDbType.Jsonb) { Value = JsonSerializer.Serialize(generation.Options, Json) });
        var inserted = await ReadOneAsync(command, cancellationToken);
        if (inserted is not null) return (CreateOutcome.Created, inserted);

        await using var existing = dataSource.CreateCommand($"select {Columns} from fusedream.generations where idempotency_key = @key");
        existing.Parameters.AddWithValue("key", generation.IdempotencyKey!);
        var record = await ReadOneAsync(existing, cancellationToken)
            ?? throw new InvalidOperationException($"Idempotency key '{generation.IdempotencyKey}' conflicted but its generation is gone.");
        return (record.RequestHash == generation.RequestHash ? CreateOutcome.Existing : CreateOutcome.KeyConflict, record);
    }

    /// <summary>Records the queue's job id (used to drop a canceled job from the queue).</summary>
    public async Task SetJobIdAsync(Guid id, string jobId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("update fusedream.generations set job_id = @job where id = @id");
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("job", jobId);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// Takes over the enqueueing of a queued generation that has no job although it was created
    /// more than <paramref name="olderThan"/> ago: the API process that created it stopped
    /// between committing the row and enqueueing its job. The row is marked in the same
    /// statement, so of several concurrent callers exactly one gets true and enqueues.
    /// </summary>
    public async Task<bool> TryAdoptUnqueuedAsync(Guid id, TimeSpan olderThan, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            """
            update fusedream.generations set job_id = @marker
            where id = @id and status = 'queued' and job_id is null and created_at < now() - @age
            """);
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("marker", AdoptingMarker);
        command.Parameters.AddWithValue("age", olderThan);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    /// <summary>Undoes <see cref="TryAdoptUnqueuedAsync"/> when the enqueue failed, so a later replay may try again.</summary>
    public async Task ReleaseAdoptionAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("update fusedream.generations set job_id = null where id = @id and job_id = @marker");
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("marker", AdoptingMarker);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The job id of a generation whose job is being enqueued by <see cref="TryAdoptUnqueuedAsync"/>'s winner.</summary>
    private const string AdoptingMarker = "(enqueueing)";

    /// <summary>Removes a generation that never reached the queue (enqueueing failed), so a retry with the same idempotency key starts afresh.</summary>
    public async Task DeleteQueuedAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("delete from fusedream.generations where id = @id and status = 'queued' and job_id is null");
        command.Parameters.AddWithValue("id", id);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public Task<GenerationRecord?> GetAsync(Guid id, CancellationToken cancellationToken) => ReadRetryingAsync(async () =>
    {
        await using var command = dataSource.CreateCommand($"select {Columns} from fusedream.generations where id = @id");
        command.Parameters.AddWithValue("id", id);
        return await ReadOneAsync(command, cancellationToken);
    });

    /// <summary>1-based position among queued generations (oldest first); null when not queued.</summary>
    public Task<long?> QueuePositionAsync(GenerationRecord record, CancellationToken cancellationToken) => ReadRetryingAsync<long?>(async () =>
    {
        if (record.Status != GenerationStatus.Queued) return null;
        await using var command = dataSource.CreateCommand(
            "select count(*) from fusedream.generations where status = 'queued' and seq <= @seq");
        command.Parameters.AddWithValue("seq", record.Sequence);
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    });

    /// <summary>Newest first; <paramref name="before"/> is the sequence of the last row of the previous page.</summary>
    public Task<(IReadOnlyList<GenerationRecord> Items, long? Next)> ListAsync(
        GenerationStatus? status, long? before, int limit, CancellationToken cancellationToken) => ReadRetryingAsync<(IReadOnlyList<GenerationRecord>, long?)>(async () =>
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        await using var command = dataSource.CreateCommand(
            $"""
            select {Columns} from fusedream.generations
            where (@status::text is null or status = @status) and (@before::bigint is null or seq < @before)
            order by seq desc
            limit @limit
            """);
        command.Parameters.Add(new NpgsqlParameter("status", NpgsqlDbType.Text) { Value = (object?)status?.ToName() ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("before", NpgsqlDbType.Bigint) { Value = (object?)before ?? DBNull.Value });
        command.Parameters.AddWithValue("limit", limit + 1);
        var rows = await ReadAllAsync(command, cancellationToken);
        return rows.Count > limit ? (rows.Take(limit).ToList(), rows[limit - 1].Sequence) : (rows, null);
    });

    public Task<IReadOnlyList<PreviewRecord>> GetPreviewsAsync(Guid id, CancellationToken cancellationToken) => ReadRetryingAsync<IReadOnlyList<PreviewRecord>>(async () =>
    {
        await using var command = dataSource.CreateCommand(
            "select step, blob_key from fusedream.generation_previews where generation_id = @id order by step");
        command.Parameters.AddWithValue("id", id);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var list = new List<PreviewRecord>();
        while (await reader.ReadAsync(cancellationToken)) list.Add(new(reader.GetInt32(0), reader.GetString(1)));
        return list;
    });

    public Task<IReadOnlyList<TracePoint>> GetTraceAsync(Guid id, CancellationToken cancellationToken) => ReadRetryingAsync<IReadOnlyList<TracePoint>>(async () =>
    {
        await using var command = dataSource.CreateCommand(
            "select step, loss, aug_clip from fusedream.generation_trace where generation_id = @id order by ordinal");
        command.Parameters.AddWithValue("id", id);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var list = new List<TracePoint>();
        while (await reader.ReadAsync(cancellationToken))
            list.Add(new(reader.GetInt32(0), reader.GetDouble(1), reader.IsDBNull(2) ? null : reader.GetDouble(2)));
        return list;
    });

    /// <summary>
    /// Queued → canceled at once; running → flag set and the worker notified (it stops within
    /// one step and marks the row canceled); finished → unchanged.
    /// </summary>
    public async Task<(CancelOutcome Outcome, GenerationRecord? Record)> CancelAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            $"""
            with queued as (
                update fusedream.generations
                set status = 'canceled', cancel_requested = true, finished_at = now(), phase = null
                where id = @id and status = 'queued'
                returning id),
            running as (
                update fusedream.generations
                set cancel_requested = true
                where id = @id and status = 'running'
                returning id),
            notified as (
                select pg_notify('{CancelChannel}', @id::text) from running)
            select (select count(*) from queued), (select count(*) from running), (select count(*) from notified)
            """);
        command.Parameters.AddWithValue("id", id);
        long queued, running;
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            await reader.ReadAsync(cancellationToken);
            queued = reader.GetInt64(0);
            running = reader.GetInt64(1);
        }
        var record = await GetAsync(id, cancellationToken);
        if (record is null) return (CancelOutcome.NotFound, null);
        if (queued > 0) return (CancelOutcome.Canceled, record);
        if (running > 0) return (CancelOutcome.Requested, record);
        return (CancelOutcome.AlreadyFinished, record);
    }

    // ---- Worker side ---------------------------------------------------------------------

    /// <summary>
    /// Takes the generation for this run: queued → running, or running → running again when a
    /// previous run of the same job died (the queue hands a job out again only once its
    /// invisibility timeout lapsed, so the earlier run is gone). Null when there is nothing to
    /// do: unknown id, or already finished (a re-delivered job must not run twice).
    /// </summary>
    public async Task<GenerationRecord?> ClaimAsync(Guid id, string worker, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            $"""
            update fusedream.generations
            set status = 'running', started_at = coalesce(started_at, now()), attempts = attempts + 1, worker = @worker,
                phase = null, step = null, total = null, aug_clip = null, eta_seconds = null, progress_at = null
            where id = @id and status in ('queued', 'running')
            returning {Columns}
            """);
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("worker", worker);
        return await ReadOneAsync(command, cancellationToken);
    }

    /// <summary>Writes the latest progress of a running generation; returns whether cancellation was requested (the polling half of cancellation).</summary>
    public async Task<bool> WriteProgressAsync(Guid id, GenerationProgress progress, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            """
            update fusedream.generations
            set phase = @phase, step = @step, total = @total, aug_clip = coalesce(@aug, aug_clip), eta_seconds = @eta, progress_at = now()
            where id = @id and status = 'running'
            returning cancel_requested
            """);
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("phase", progress.Phase.ToString());
        command.Parameters.AddWithValue("step", progress.Step);
        command.Parameters.AddWithValue("total", progress.Total);
        command.Parameters.Add(new NpgsqlParameter("aug", NpgsqlDbType.Double) { Value = (object?)progress.AugClip ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("eta", NpgsqlDbType.Double) { Value = (object?)progress.Eta?.TotalSeconds ?? DBNull.Value });
        // No row: the generation is no longer running (canceled while queued, or finished) — stop.
        return await command.ExecuteScalarAsync(cancellationToken) is not false;
    }

    public async Task<bool> IsCancelRequestedAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("select cancel_requested or status <> 'running' from fusedream.generations where id = @id");
        command.Parameters.AddWithValue("id", id);
        return await command.ExecuteScalarAsync(cancellationToken) is not false;
    }

    /// <summary>Records a preview whose blob is already stored; a re-run overwrites the same step.</summary>
    public async Task SavePreviewAsync(Guid id, int step, string blobKey, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            """
            insert into fusedream.generation_previews (generation_id, step, blob_key) values (@id, @step, @key)
            on conflict (generation_id, step) do update set blob_key = excluded.blob_key, created_at = now()
            """);
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("step", step);
        command.Parameters.AddWithValue("key", blobKey);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// Commits the result in one transaction: the row becomes succeeded and its trace is
    /// stored. Guarded by <c>status = 'running' and not cancel_requested</c>: returns false,
    /// changing nothing, when the generation was already finished (a re-run) or canceled.
    /// The image blob must already be durable: this commit is what makes it visible.
    /// </summary>
    public async Task<bool> CompleteAsync(Guid id, GenerationResult result, string imageKey, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var update = new NpgsqlCommand(
            """
            update fusedream.generations
            set status = 'succeeded', finished_at = now(), score = @score, image_key = @image, seed = @seed,
                final_z = @z, final_y = @y, phase = 'Finished', error = null
            where id = @id and status = 'running' and not cancel_requested
            """, connection, transaction))
        {
            update.Parameters.AddWithValue("id", id);
            update.Parameters.AddWithValue("score", result.AugClipScore);
            update.Parameters.AddWithValue("image", imageKey);
            update.Parameters.AddWithValue("seed", result.Seed);
            update.Parameters.AddWithValue("z", result.FinalZ);
            update.Parameters.AddWithValue("y", result.FinalY);
            if (await update.ExecuteNonQueryAsync(cancellationToken) == 0)
                return false;
        }
        await using (var trace = new NpgsqlCommand(
            """
            insert into fusedream.generation_trace (generation_id, ordinal, step, loss, aug_clip)
            select @id, t.ordinal - 1, t.step, t.loss, t.aug
            from unnest(@steps, @losses, @augs) with ordinality as t(step, loss, aug, ordinal)
            """, connection, transaction))
        {
            trace.Parameters.AddWithValue("id", id);
            trace.Parameters.AddWithValue("steps", result.Trace.Select(p => p.Step).ToArray());
            trace.Parameters.AddWithValue("losses", result.Trace.Select(p => p.Loss).ToArray());
            trace.Parameters.Add(new NpgsqlParameter("augs", NpgsqlDbType.Array | NpgsqlDbType.Double)
            {
                Value = result.Trace.Select(p => p.AugClip is { } a ? (object)a : DBNull.Value).ToArray(),
            });
            await trace.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    /// <summary>Running (or queued) → canceled; false when it had already finished.</summary>
    public Task<bool> MarkCanceledAsync(Guid id, CancellationToken cancellationToken) =>
        FinishAsync(id, "canceled", null, cancellationToken);

    /// <summary>Running (or queued) → failed with a reason; false when it had already finished.</summary>
    public Task<bool> MarkFailedAsync(Guid id, string error, CancellationToken cancellationToken) =>
        FinishAsync(id, "failed", error, cancellationToken);

    /// <summary>Running → queued, for a job handed back to the queue (worker shutdown, transient failure to be retried).</summary>
    public async Task RequeueAsync(Guid id, string? reason, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            """
            update fusedream.generations
            set status = 'queued', worker = null, phase = null, step = null, total = null, eta_seconds = null, progress_at = null, error = @reason
            where id = @id and status = 'running'
            """);
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("reason", (object?)reason ?? DBNull.Value);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private async Task<bool> FinishAsync(Guid id, string status, string? error, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            """
            update fusedream.generations
            set status = @status, finished_at = now(), error = @error, eta_seconds = null
            where id = @id and status in ('queued', 'running')
            """);
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("status", status);
        command.Parameters.AddWithValue("error", (object?)error ?? DBNull.Value);
        return await command.ExecuteNonQueryAsync(cancellationToken) > 0;
    }

    // ---- Workers -------------------------------------------------------------------------

    public async Task HeartbeatAsync(string name, IReadOnlyList<string> models, int workerCount, DateTimeOffset startedAt, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            """
            insert into fusedream.workers (name, models, worker_count, started_at, last_seen)
            values (@name, @models, @count, @started, now())
            on conflict (name) do update set models = excluded.models, worker_count = excluded.worker_count,
                started_at = excluded.started_at, last_seen = now()
            """);
        command.Parameters.AddWithValue("name", name);
        command.Parameters.AddWithValue("models", models.ToArray());
        command.Parameters.AddWithValue("count", workerCount);
        command.Parameters.AddWithValue("started", startedAt);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task RemoveWorkerAsync(string name, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("delete from fusedream.workers where name = @name");
        command.Parameters.AddWithValue("name", name);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Workers whose last heartbeat is younger than <paramref name="maxAge"/>.</summary>
    public Task<IReadOnlyList<WorkerRecord>> GetLiveWorkersAsync(TimeSpan maxAge, CancellationToken cancellationToken) => ReadRetryingAsync<IReadOnlyList<WorkerRecord>>(async () =>
    {
        await using var command = dataSource.CreateCommand(
            "select name, models, worker_count, started_at, last_seen from fusedream.workers where last_seen > now() - @age order by name");
        command.Parameters.AddWithValue("age", maxAge);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var list = new List<WorkerRecord>();
        while (await reader.ReadAsync(cancellationToken))
            list.Add(new(reader.GetString(0), reader.GetFieldValue<string[]>(1), reader.GetInt32(2),
                reader.GetFieldValue<DateTimeOffset>(3), reader.GetFieldValue<DateTimeOffset>(4)));
        return list;
    });

    // ---- Reading rows --------------------------------------------------------------------

    /// <summary>
    /// Reads are side-effect free, so a read that meets a dead pooled connection (the server
    /// restarted or ended the session) is retried on a fresh one, after dropping the idle
    /// connections that died with it.
    /// </summary>
    private async Task<T> ReadRetryingAsync<T>(Func<Task<T>> read)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await read();
            }
            catch (Exception ex) when (attempt < 3 && TransientErrors.IsTransient(ex))
            {
                dataSource.Clear();
                await Task.Delay(50 * attempt);
            }
        }
    }

    private static async Task<GenerationRecord?> ReadOneAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        var rows = await ReadAllAsync(command, cancellationToken);
        return rows.Count == 0 ? null : rows[0];
    }

    private static async Task<List<GenerationRecord>> ReadAllAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var list = new List<GenerationRecord>();
        while (await reader.ReadAsync(cancellationToken)) list.Add(Read(reader));
        return list;
    }

    private static GenerationRecord Read(NpgsqlDataReader r)
    {
        string? S(int i) => r.IsDBNull(i) ? null : r.GetString(i);
        DateTimeOffset? T(int i) => r.IsDBNull(i) ? null : r.GetFieldValue<DateTimeOffset>(i);
        double? D(int i) => r.IsDBNull(i) ? null : r.GetDouble(i);
        GenerationProgressRecord? progress = null;
        if (!r.IsDBNull(17) && Enum.TryParse<GenerationPhase>(r.GetString(17), out var phase))
            progress = new(phase, r.IsDBNull(18) ? 0 : r.GetInt32(18), r.IsDBNull(19) ? 0 : r.GetInt32(19), D(20),
                D(21) is { } eta ? TimeSpan.FromSeconds(eta) : null, T(22) ?? DateTimeOffset.UtcNow);
        return new GenerationRecord
        {
            Id = r.GetGuid(0),
            Sequence = r.GetInt64(1),
            IdempotencyKey = S(2),
            RequestHash = r.GetString(3),
            Prompt = r.GetString(4),
            Model = r.GetString(5),
            Seed = r.GetInt64(6),
            Preset = S(7),
            Options = JsonSerializer.Deserialize<GenerationOptions>(r.GetString(8), Json)!,
            Status = GenerationStatusNames.Parse(r.GetString(9)),
            CancelRequested = r.GetBoolean(10),
            Attempts = r.GetInt32(11),
            Worker = S(12),
            JobId = S(13),
            CreatedAt = r.GetFieldValue<DateTimeOffset>(14),
            StartedAt = T(15),
            FinishedAt = T(16),
            Progress = progress,
            Score = D(23),
            ImageKey = S(24),
            Error = S(25),
        };
    }
}
