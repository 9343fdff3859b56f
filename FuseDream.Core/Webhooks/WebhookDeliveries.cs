using Npgsql;

namespace FuseDream.Webhooks;

/// <summary>One event's delivery as its owner sees it: the delivery log of a generation.</summary>
public sealed record WebhookDeliveryRecord(
    Guid Id, Guid GenerationId, string Event, string Status, int Attempts, int? LastStatusCode, string? LastError,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

/// <summary>What one delivery attempt needs: the event, where it goes and the key to sign it with.</summary>
internal sealed record PendingDelivery(Guid Id, Guid GenerationId, string Event, string Payload, string Status, int Attempts, string Url, string Secret, DateTimeOffset CreatedAt);

/// <summary>The rows of <c>fusedream.webhook_deliveries</c> (written by the database's trigger at each status change).</summary>
public sealed class WebhookDeliveries(NpgsqlDataSource dataSource)
{
    private const string Columns = "id, generation_id, event, status, attempts, last_status, last_error, created_at, updated_at";

    /// <summary>The deliveries of <paramref name="generationId"/>, oldest first.</summary>
    public async Task<IReadOnlyList<WebhookDeliveryRecord>> ListAsync(Guid generationId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"select {Columns} from fusedream.webhook_deliveries where generation_id = @id order by created_at, id");
        command.Parameters.AddWithValue("id", generationId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var list = new List<WebhookDeliveryRecord>();
        while (await reader.ReadAsync(cancellationToken))
            list.Add(new(reader.GetGuid(0), reader.GetGuid(1), reader.GetString(2), reader.GetString(3), reader.GetInt32(4),
                reader.IsDBNull(5) ? null : reader.GetInt32(5), reader.IsDBNull(6) ? null : reader.GetString(6),
                reader.GetFieldValue<DateTimeOffset>(7), reader.GetFieldValue<DateTimeOffset>(8)));
        return list;
    }

    internal async Task<PendingDelivery?> GetPendingAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            """
            select d.id, d.generation_id, d.event, d.payload::text, d.status, d.attempts, g.webhook_url, k.webhook_secret, d.created_at
            from fusedream.webhook_deliveries d
            join fusedream.generations g on g.id = d.generation_id
            join fusedream.api_keys k on k.id = g.owner_key_id
            where d.id = @id
            """);
        command.Parameters.AddWithValue("id", id);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken)) return null;
        return new(reader.GetGuid(0), reader.GetGuid(1), reader.GetString(2), reader.GetString(3), reader.GetString(4), reader.GetInt32(5),
            reader.GetString(6), reader.GetString(7), reader.GetFieldValue<DateTimeOffset>(8));
    }

    /// <summary>Records one attempt's outcome; returns the attempts made so far.</summary>
    internal async Task<int> RecordAttemptAsync(Guid id, string status, int? statusCode, string? error, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            """
            update fusedream.webhook_deliveries
            set attempts = attempts + 1, status = @status, last_status = @code, last_error = @error, updated_at = now()
            where id = @id and status = 'pending'
            returning attempts
            """);
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("status", status);
        command.Parameters.AddWithValue("code", (object?)statusCode ?? DBNull.Value);
        command.Parameters.AddWithValue("error", (object?)error ?? DBNull.Value);
        return await command.ExecuteScalarAsync(cancellationToken) is int attempts ? attempts : 0;
    }

    /// <summary>
    /// Takes undispatched events (progress at most once per <paramref name="progressInterval"/> per
    /// generation), hands each to <paramref name="enqueue"/> and records its job, in one
    /// transaction whose row locks keep two dispatchers from taking the same event.
    /// </summary>
    internal async Task<int> DispatchAsync(TimeSpan progressInterval, Func<Guid, string> enqueue, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var ids = new List<Guid>();
        await using (var select = new NpgsqlCommand(
            """
            select d.id from fusedream.webhook_deliveries d
            where d.job_id is null and d.status = 'pending'
              and (d.event <> 'progress' or not exists (
                  select 1 from fusedream.webhook_deliveries p
                  where p.generation_id = d.generation_id and p.event = 'progress' and p.dispatched_at > now() - @interval))
            order by d.created_at
            limit 100
            for update skip locked
            """, connection, transaction))
        {
            select.Parameters.AddWithValue("interval", progressInterval);
            await using var reader = await select.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken)) ids.Add(reader.GetGuid(0));
        }
        foreach (var id in ids)
        {
            // At least once: a dispatcher that dies after enqueueing and before committing leaves
            // the event undispatched, and it is enqueued again; receivers deduplicate on webhook-id.
            var jobId = enqueue(id);
            await using var mark = new NpgsqlCommand(
                "update fusedream.webhook_deliveries set job_id = @job, dispatched_at = now() where id = @id", connection, transaction);
            mark.Parameters.AddWithValue("id", id);
            mark.Parameters.AddWithValue("job", jobId);
            await mark.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
        return ids.Count;
    }
}
