using System.Text.Json;
using Npgsql;
using NpgsqlTypes;
using static FuseDream.Persistence.GenerationRows;

namespace FuseDream.Persistence;

/// <summary>What <see cref="GenerationSubmissions.CreateAsync"/> did.</summary>
internal enum CreateOutcome
{
    /// <summary>A new row was inserted.</summary>
    Created,
    /// <summary>The idempotency key was seen before with the same request: that generation is returned.</summary>
    Existing,
    /// <summary>The idempotency key was seen before with a different request.</summary>
    KeyConflict,
    /// <summary>The owner already has as many generations queued or running as allowed; nothing was stored.</summary>
    TooManyActive,
}

/// <summary>
/// The rows of the submit protocol: the idempotent insert, the job id that links a row to its
/// queued job, the adoption of a row whose request stopped before enqueueing (re-takeable once
/// stale), and the removal of a row that never reached the queue.
/// </summary>
internal sealed class GenerationSubmissions(NpgsqlDataSource dataSource)
{
    /// <summary>
    /// The start of the job id a row carries while a replay enqueues its job
    /// (<see cref="TryAdoptUnqueuedAsync"/>): <c>(enqueueing since 2026-01-31T12:00:00.000000Z)</c>,
    /// the database's clock at the adoption. The time lets a later replay take over an adoption
    /// whose process died before enqueueing.
    /// </summary>
    internal const string AdoptionMarkerPrefix = "(enqueueing since ";

    /// <summary>Whether <paramref name="jobId"/> is an adoption's marker rather than a queue's job id.</summary>
    internal static bool IsAdoptionMarker(string jobId) => jobId.StartsWith(AdoptionMarkerPrefix, StringComparison.Ordinal);

    /// <summary>
    /// Inserts a queued generation. With an idempotency key, a second insert with the same key
    /// by the same owner returns the first row (<see cref="CreateOutcome.Existing"/> when the
    /// request hash matches, <see cref="CreateOutcome.KeyConflict"/> when it does not); the unique
    /// index on (owner, key) makes this safe under concurrent requests, and keeps two owners'
    /// keys apart.
    /// </summary>
    public async Task<(CreateOutcome Outcome, GenerationRecord Record)> CreateAsync(NewGeneration generation, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var (outcome, record) = await InsertOrFindAsync(connection, null, generation, cancellationToken);
        return (outcome, record);
    }

    /// <summary>
    /// As <see cref="CreateAsync"/>, but refuses (<see cref="CreateOutcome.TooManyActive"/>, no
    /// record, storing nothing) when the generation's owner already has <paramref name="maxActive"/>
    /// generations queued or running. A replay of an earlier submit is answered as usual even
    /// then. The count and the insert run under a per-owner transaction lock, so concurrent
    /// submits of one owner cannot pass the limit together.
    /// </summary>
    public async Task<(CreateOutcome Outcome, GenerationRecord? Record, long Active)> CreateWithinQuotaAsync(
        NewGeneration generation, int maxActive, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(generation);
        ArgumentNullException.ThrowIfNull(generation.OwnerKeyId);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var lockCommand = new NpgsqlCommand("select pg_advisory_xact_lock(hashtextextended('fusedream.active:' || @owner, 0))", connection, transaction))
        {
            lockCommand.Parameters.AddWithValue("owner", generation.OwnerKeyId);
            await lockCommand.ExecuteNonQueryAsync(cancellationToken);
        }
        if (generation.IdempotencyKey is not null && await FindByKeyAsync(connection, transaction, generation, cancellationToken) is { } earlier)
        {
            await transaction.CommitAsync(cancellationToken);
            return (earlier.RequestHash == generation.RequestHash ? CreateOutcome.Existing : CreateOutcome.KeyConflict, earlier, 0);
        }
        long active;
        await using (var count = new NpgsqlCommand(
            "select count(*) from fusedream.generations where owner_key_id = @owner and status = any(@active)", connection, transaction))
        {
            count.Parameters.AddWithValue("owner", generation.OwnerKeyId);
            count.Parameters.AddWithValue("active", Names([GenerationStatus.Queued, GenerationStatus.Running]));
            active = (long)(await count.ExecuteScalarAsync(cancellationToken))!;
        }
        if (active >= maxActive)
        {
            await transaction.CommitAsync(cancellationToken);
            return (CreateOutcome.TooManyActive, null, active);
        }
        var (outcome, record) = await InsertOrFindAsync(connection, transaction, generation, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return (outcome, record, active);
    }

    private static async Task<(CreateOutcome, GenerationRecord)> InsertOrFindAsync(
        NpgsqlConnection connection, NpgsqlTransaction? transaction, NewGeneration generation, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            $"""
            insert into fusedream.generations (id, idempotency_key, request_hash, prompt, model, seed, preset, options, status, owner_key_id, webhook_url, webhook_events, components, composition)
            values (@id, @key, @hash, @prompt, @model, @seed, @preset, @options, @queued, @owner, @webhook, @events, @components, @composition)
            on conflict (coalesce(owner_key_id, ''), idempotency_key) where idempotency_key is not null do nothing
            returning {Columns}
            """, connection, transaction);
        command.Parameters.AddWithValue("id", generation.Id);
        command.Parameters.AddWithValue("key", (object?)generation.IdempotencyKey ?? DBNull.Value);
        command.Parameters.AddWithValue("hash", generation.RequestHash);
        command.Parameters.AddWithValue("prompt", generation.Prompt);
        command.Parameters.AddWithValue("model", generation.Options.Model);
        command.Parameters.AddWithValue("seed", generation.Seed);
        command.Parameters.AddWithValue("preset", (object?)generation.Preset ?? DBNull.Value);
        command.Parameters.Add(new NpgsqlParameter("options", NpgsqlDbType.Jsonb) { Value = JsonSerializer.Serialize(generation.Options, Json) });
        command.Parameters.Add(new NpgsqlParameter("components", NpgsqlDbType.Jsonb)
        {
            Value = generation.Scene is { } scene ? JsonSerializer.Serialize(scene.Components, Json) : DBNull.Value,
        });
        command.Parameters.Add(new NpgsqlParameter("composition", NpgsqlDbType.Jsonb)
        {
            Value = generation.Scene is { } fusion ? JsonSerializer.Serialize(fusion.Composition, Json) : DBNull.Value,
        });
        command.Parameters.AddWithValue("queued", GenerationStatus.Queued.ToName());
        command.Parameters.Add(new NpgsqlParameter("owner", NpgsqlDbType.Text) { Value = (object?)generation.OwnerKeyId ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("webhook", NpgsqlDbType.Text) { Value = (object?)generation.WebhookUrl ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("events", NpgsqlDbType.Array | NpgsqlDbType.Text)
        {
            Value = generation.WebhookUrl is null ? DBNull.Value : generation.WebhookEvents.ToArray(),
        });
        var inserted = await ReadOneAsync(command, cancellationToken);
        if (inserted is not null) return (CreateOutcome.Created, inserted);

        var record = await FindByKeyAsync(connection, transaction, generation, cancellationToken)
            ?? throw new InvalidOperationException($"Idempotency key '{generation.IdempotencyKey}' conflicted but its generation is gone.");
        return (record.RequestHash == generation.RequestHash ? CreateOutcome.Existing : CreateOutcome.KeyConflict, record);
    }

    private static async Task<GenerationRecord?> FindByKeyAsync(
        NpgsqlConnection connection, NpgsqlTransaction? transaction, NewGeneration generation, CancellationToken cancellationToken)
    {
        await using var existing = new NpgsqlCommand(
            $"select {Columns} from fusedream.generations where coalesce(owner_key_id, '') = coalesce(@owner, '') and idempotency_key = @key",
            connection, transaction);
        existing.Parameters.AddWithValue("key", generation.IdempotencyKey!);
        existing.Parameters.Add(new NpgsqlParameter("owner", NpgsqlDbType.Text) { Value = (object?)generation.OwnerKeyId ?? DBNull.Value });
        return await ReadOneAsync(existing, cancellationToken);
    }

    /// <summary>
    /// Records the queue's job id of the generation (used to drop a canceled job from the queue,
    /// and by the worker to tell the generation's job from a surplus one). Returns false,
    /// changing nothing, when the row already names another job: a job of the same generation
    /// claimed it first (<see cref="GenerationStateMachine.ClaimAsync"/> records its own id), so
    /// <paramref name="jobId"/> is surplus and will find nothing to do.
    /// </summary>
    public async Task<bool> SetJobIdAsync(Guid id, string jobId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            """
            update fusedream.generations set job_id = @job
            where id = @id and (job_id is null or job_id = @job or starts_with(job_id, @adopting))
            """);
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("job", jobId);
        command.Parameters.AddWithValue("adopting", AdoptionMarkerPrefix);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    /// <summary>
    /// Takes over the enqueueing of a queued generation that has no job although it was created
    /// more than <paramref name="olderThan"/> ago: the process that created it stopped between
    /// committing the row and enqueueing its job. The row is marked in the same statement, so
    /// of several concurrent callers exactly one gets the marker (the others null) and enqueues.
    /// An adoption is itself taken over once it is older than <paramref name="olderThan"/>: the
    /// replay that made it stopped before enqueueing (a live one records its job within
    /// milliseconds), and its marker would otherwise keep the generation out of the queue
    /// forever. Returns the marker, for <see cref="ReleaseAdoptionAsync"/>.
    /// </summary>
    public async Task<string?> TryAdoptUnqueuedAsync(Guid id, TimeSpan olderThan, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            """
            update fusedream.generations
            set job_id = @adopting || to_char(now() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || ')'
            where id = @id and status = @queued and created_at < now() - @age
              and case when job_id is null then true
                       when starts_with(job_id, @adopting)
                           then rtrim(substr(job_id, length(@adopting) + 1), ')')::timestamptz < now() - @age
                       else false end
            returning job_id
            """);
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("adopting", AdoptionMarkerPrefix);
        command.Parameters.AddWithValue("queued", GenerationStatus.Queued.ToName());
        command.Parameters.AddWithValue("age", olderThan);
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }

    /// <summary>Undoes <see cref="TryAdoptUnqueuedAsync"/> when the enqueue failed, so a later replay may try again.</summary>
    public async Task ReleaseAdoptionAsync(Guid id, string marker, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("update fusedream.generations set job_id = null where id = @id and job_id = @marker");
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("marker", marker);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Removes a generation that never reached the queue (enqueueing failed), so a retry with the same idempotency key starts afresh.</summary>
    public async Task DeleteQueuedAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("delete from fusedream.generations where id = @id and status = @queued and job_id is null");
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("queued", GenerationStatus.Queued.ToName());
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
