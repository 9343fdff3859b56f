using Npgsql;

namespace FuseDream.Persistence;

/// <summary>
/// Worker processes announce themselves and their models here (<c>fusedream.workers</c>);
/// readiness and <c>/v1/models</c> read who is alive.
/// </summary>
public sealed class WorkerRegistry(NpgsqlDataSource dataSource)
{
    public Task HeartbeatAsync(string name, IReadOnlyList<string> models, int workerCount, DateTimeOffset startedAt, CancellationToken cancellationToken) =>
        HeartbeatAsync(name, models, [], workerCount, startedAt, cancellationToken);

    /// <summary>
    /// A heartbeat announcing the generator models and the CLIP models (<paramref name="clips"/>)
    /// the worker loaded, and what they compute in (<paramref name="precision"/>, when it says).
    /// </summary>
    public async Task HeartbeatAsync(string name, IReadOnlyList<string> models, IReadOnlyList<string> clips, int workerCount, DateTimeOffset startedAt, CancellationToken cancellationToken,
        Models.PrecisionChoice? precision = null)
    {
        await using var command = dataSource.CreateCommand(
            """
            insert into fusedream.workers (name, models, clips, worker_count, started_at, last_seen, precision, precision_reason)
            values (@name, @models, @clips, @count, @started, now(), @precision, @precisionReason)
            on conflict (name) do update set models = excluded.models, clips = excluded.clips, worker_count = excluded.worker_count,
                started_at = excluded.started_at, last_seen = now(), precision = excluded.precision, precision_reason = excluded.precision_reason
            """);
        command.Parameters.AddWithValue("precision", precision is null ? DBNull.Value : Models.ModelPrecision.Name(precision.Precision));
        command.Parameters.AddWithValue("precisionReason", (object?)precision?.Reason ?? DBNull.Value);
        command.Parameters.AddWithValue("name", name);
        command.Parameters.AddWithValue("models", models.ToArray());
        command.Parameters.AddWithValue("clips", clips.ToArray());
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

    /// <summary>
    /// Running generations whose worker has no heartbeat younger than <paramref name="maxAge"/>
    /// (it died, or was stopped without handing them back), oldest first.
    /// </summary>
    public async Task<IReadOnlyList<LostGeneration>> GetLostGenerationsAsync(TimeSpan maxAge, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            """
            select g.id, g.worker, g.job_id, g.model from fusedream.generations g
            where g.status = 'running' and g.worker is not null
              and not exists (select 1 from fusedream.workers w where w.name = g.worker and w.last_seen > now() - @age)
            order by g.seq
            """);
        command.Parameters.AddWithValue("age", maxAge);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var list = new List<LostGeneration>();
        while (await reader.ReadAsync(cancellationToken))
            list.Add(new(reader.GetGuid(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2), reader.GetString(3)));
        return list;
    }

    /// <summary>Workers whose last heartbeat is younger than <paramref name="maxAge"/>.</summary>
    public Task<IReadOnlyList<WorkerRecord>> GetLiveWorkersAsync(TimeSpan maxAge, CancellationToken cancellationToken) =>
        GenerationRows.ReadRetryingAsync<IReadOnlyList<WorkerRecord>>(dataSource, async () =>
    {
        await using var command = dataSource.CreateCommand(
            "select name, models, worker_count, started_at, last_seen, clips, precision, precision_reason from fusedream.workers where last_seen > now() - @age order by name");
        command.Parameters.AddWithValue("age", maxAge);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var list = new List<WorkerRecord>();
        while (await reader.ReadAsync(cancellationToken))
            list.Add(new(reader.GetString(0), reader.GetFieldValue<string[]>(1), reader.GetInt32(2),
                reader.GetFieldValue<DateTimeOffset>(3), reader.GetFieldValue<DateTimeOffset>(4))
            {
                Clips = reader.GetFieldValue<string[]>(5),
                Precision = reader.IsDBNull(6) ? null : reader.GetString(6),
                PrecisionReason = reader.IsDBNull(7) ? null : reader.GetString(7),
            });
        return list;
    });
}

/// <summary>A running generation whose worker is gone: its id, that worker, its Hangfire job and model.</summary>
public sealed record LostGeneration(Guid Id, string Worker, string? JobId, string Model);
