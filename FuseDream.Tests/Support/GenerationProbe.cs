using Npgsql;

namespace FuseDream.Tests.Support;

/// <summary>
/// What the integration tests read from (and, for a few deliberate faults, write to) a test
/// database behind the service's back. Assertions go through the HTTP API where it can say
/// it; this is for what it cannot (attempts, the worker's name, rows the API never shows,
/// Hangfire's jobs) and for faults that must bypass the API. Every question names the
/// generations it is about, so that tests sharing a database never count each other's rows.
/// Its own connections are unpooled and named <see cref="ApplicationName"/>, so that killing
/// the service's sessions never breaks the probe and the probe is never counted among them.
/// </summary>
public sealed class GenerationProbe
{
    public const string ApplicationName = "fusedream-test-probe";

    private readonly string _connectionString;

    public GenerationProbe(string connectionString, string? blobDirectory = null)
    {
        _connectionString = new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false, ApplicationName = ApplicationName }.ConnectionString;
        BlobDirectory = blobDirectory;
    }

    /// <summary>The service's blob store, for <see cref="BlobKeys"/>.</summary>
    public string? BlobDirectory { get; }

    public Task<string?> StatusAsync(Guid id) => ColumnAsync<string>(id, "status");

    public async Task<int> AttemptsAsync(Guid id) => await ColumnAsync<int?>(id, "attempts") ?? throw Missing(id);

    public Task<string?> WorkerAsync(Guid id) => ColumnAsync<string>(id, "worker");

    /// <summary>The last step the worker wrote as progress.</summary>
    public Task<int?> StepAsync(Guid id) => ColumnAsync<int?>(id, "step");

    public Task<string?> ImageKeyAsync(Guid id) => ColumnAsync<string>(id, "image_key");

    /// <summary>The Hangfire job id the row names (null while the submit has not recorded it).</summary>
    public Task<string?> JobIdAsync(Guid id) => ColumnAsync<string>(id, "job_id");

    /// <summary>The preview rows' steps, in order.</summary>
    public Task<IReadOnlyList<int>> PreviewStepsAsync(Guid id) =>
        ListAsync<int>("select step from fusedream.generation_previews where generation_id = @id order by step", id);

    /// <summary>The blob keys the preview rows name, by step.</summary>
    public Task<IReadOnlyList<string>> PreviewKeysAsync(Guid id) =>
        ListAsync<string>("select blob_key from fusedream.generation_previews where generation_id = @id order by step", id);

    /// <summary>The trace rows' steps, in their stored order.</summary>
    public Task<IReadOnlyList<int>> TraceStepsAsync(Guid id) =>
        ListAsync<int>("select step from fusedream.generation_trace where generation_id = @id order by ordinal", id);

    /// <summary>Rows of these generations in <c>generations</c>, <c>generation_trace</c> and <c>generation_previews</c>, summed.</summary>
    public async Task<long> RowsOfAsync(params Guid[] ids)
    {
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand(
            """
            select (select count(*) from fusedream.generations where id = any(@ids))
                 + (select count(*) from fusedream.generation_trace where generation_id = any(@ids))
                 + (select count(*) from fusedream.generation_previews where generation_id = any(@ids))
            """, connection);
        command.Parameters.AddWithValue("ids", ids);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>Generations whose prompt is exactly <paramref name="prompt"/> (for a test that sends one prompt and must find one row).</summary>
    public async Task<long> GenerationsWithPromptAsync(string prompt)
    {
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand("select count(*) from fusedream.generations where prompt = @prompt", connection);
        command.Parameters.AddWithValue("prompt", prompt);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>Hangfire jobs whose arguments name generation <paramref name="id"/>.</summary>
    public async Task<long> JobsOfAsync(Guid id)
    {
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand("select count(*) from hangfire.job where arguments::text like @pattern", connection);
        command.Parameters.AddWithValue("pattern", $"%{id}%");
        return (long)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>Whether Hangfire job <paramref name="jobId"/> exists and its arguments name generation <paramref name="id"/>.</summary>
    public async Task<bool> JobExistsForAsync(string jobId, Guid id)
    {
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand("select exists (select 1 from hangfire.job where id = @job and arguments::text like @pattern)", connection);
        command.Parameters.AddWithValue("job", long.Parse(jobId, System.Globalization.CultureInfo.InvariantCulture));
        command.Parameters.AddWithValue("pattern", $"%{id}%");
        return (bool)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>Where the tables stand now; <see cref="AddedSinceAsync"/> counts what appeared after it.</summary>
    public async Task<Mark> MarkAsync()
    {
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand(
            "select coalesce((select max(seq) from fusedream.generations), 0), coalesce((select max(id) from hangfire.job), 0)", connection);
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return new Mark(reader.GetInt64(0), reader.GetInt64(1));
    }

    /// <summary>Generations and Hangfire jobs created after <paramref name="mark"/> (ids only grow, so this is exact whatever else ran before).</summary>
    public async Task<(long Generations, long Jobs)> AddedSinceAsync(Mark mark)
    {
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand(
            "select (select count(*) from fusedream.generations where seq > @seq), (select count(*) from hangfire.job where id > @job)", connection);
        command.Parameters.AddWithValue("seq", mark.GenerationSeq);
        command.Parameters.AddWithValue("job", mark.JobId);
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return (reader.GetInt64(0), reader.GetInt64(1));
    }

    /// <summary>The names of the workers with a heartbeat row.</summary>
    public Task<IReadOnlyList<string>> WorkerNamesAsync() =>
        ListAsync<string>("select name from fusedream.workers order by name", null);

    /// <summary>The thread count worker <paramref name="name"/> announced, or null when it has no heartbeat row.</summary>
    public async Task<int?> WorkerThreadsAsync(string name)
    {
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand("select worker_count from fusedream.workers where name = @name", connection);
        command.Parameters.AddWithValue("name", name);
        return await command.ExecuteScalarAsync() as int?;
    }

    /// <summary>The blobs in the store (files named by their key; temporary files excluded).</summary>
    public IReadOnlyList<string> BlobKeys()
    {
        var root = BlobDirectory ?? throw new InvalidOperationException("This probe was made without a blob directory.");
        if (!Directory.Exists(root)) return [];
        return [.. Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .Select(Path.GetFileName)
            .Where(name => name is { Length: 64 } && name.All(char.IsAsciiHexDigitLower))
            .Cast<string>()
            .Order(StringComparer.Ordinal)];
    }

    /// <summary>
    /// Fault injection: terminates the service's sessions on this database (those whose query
    /// text matches <paramref name="queryLike"/>, if given), never the probe's own nor the
    /// server's background processes, and returns the terminated backends' process ids.
    /// </summary>
    public async Task<IReadOnlyList<int>> TerminateBackendsAsync(string? queryLike = null)
    {
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand(
            """
            with targets as materialized (
                select pid from pg_stat_activity
                where datname = current_database() and pid <> pg_backend_pid() and application_name <> @probe
                  -- the service's sessions only, never a server process (autovacuum) that is on this database
                  and backend_type = 'client backend' and usename = current_user
                  and (@pattern::text is null or query ilike @pattern))
            select pid from targets where pg_terminate_backend(pid)
            """, connection);
        command.Parameters.AddWithValue("probe", ApplicationName);
        command.Parameters.Add(new NpgsqlParameter("pattern", NpgsqlTypes.NpgsqlDbType.Text) { Value = (object?)queryLike ?? DBNull.Value });
        var pids = new List<int>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync()) pids.Add(reader.GetInt32(0));
        return pids;
    }

    /// <summary>Which of <paramref name="pids"/> still have a session on the server.</summary>
    public async Task<IReadOnlyList<int>> LiveBackendsAsync(IReadOnlyList<int> pids)
    {
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand("select pid from pg_stat_activity where pid = any(@pids)", connection);
        command.Parameters.AddWithValue("pids", pids.ToArray());
        var live = new List<int>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync()) live.Add(reader.GetInt32(0));
        return live;
    }

    /// <summary>Fault injection: records that <paramref name="losses"/> workers died running generation <paramref name="id"/>.</summary>
    public Task SetWorkerLossesAsync(Guid id, int losses) =>
        ExecuteAsync("update fusedream.generations set worker_losses = @losses where id = @id", id, ("losses", losses));

    /// <summary>Fault injection: makes worker <paramref name="worker"/>'s last heartbeat <paramref name="age"/> old, as if it had died then.</summary>
    public Task AgeHeartbeatAsync(string worker, TimeSpan age) =>
        ExecuteAsync("update fusedream.workers set last_seen = now() - @age where name = @name", null, ("age", age), ("name", worker));

    /// <summary>Fault injection: makes generation <paramref name="id"/> look created <paramref name="age"/> ago.</summary>

    public Task BackdateAsync(Guid id, TimeSpan age) =>
        ExecuteAsync("update fusedream.generations set created_at = now() - @age where id = @id", id, ("age", age));

    /// <summary>
    /// Fault injection: makes the adoption of generation <paramref name="id"/> by a replay (its
    /// <c>job_id</c> marker <c>(enqueueing since …)</c>) look <paramref name="age"/> old, as if
    /// the replaying process had died that long ago.
    /// </summary>
    public Task AgeAdoptionAsync(Guid id, TimeSpan age) =>
        ExecuteAsync(
            """
            update fusedream.generations
            set job_id = '(enqueueing since ' || to_char((now() - @age) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || ')'
            where id = @id and job_id like '(enqueueing%'
            """, id, ("age", age));

    /// <summary>Fault injection: what a submit interrupted between its commit and its enqueue leaves: the row without a job id, and no job.</summary>
    public async Task ForgetJobAsync(Guid id)
    {
        await ClearJobIdAsync(id);
        await ExecuteAsync("delete from hangfire.job where arguments::text like @pattern", null, ("pattern", $"%{id}%"));
    }

    /// <summary>Fault injection: the row loses its job id (as if its submit were still between commit and enqueue); the job stays.</summary>
    public Task ClearJobIdAsync(Guid id) =>
        ExecuteAsync("update fusedream.generations set job_id = null where id = @id", id);

    /// <summary>Fault injection: sets the row's cancel flag as a cancel does, but without the notification the API sends, so only a poll of the flag can see it.</summary>
    public Task FlagCancelAsync(Guid id) =>
        ExecuteAsync("update fusedream.generations set cancel_requested = true where id = @id", id);

    /// <summary>When Hangfire's queue entry of job <paramref name="jobId"/> was fetched (null: never, or released); throws when it has no entry.</summary>
    public async Task<DateTime?> QueueEntryFetchedAtAsync(string jobId)
    {
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand("select fetchedat from hangfire.jobqueue where jobid = @job", connection);
        command.Parameters.AddWithValue("job", long.Parse(jobId, System.Globalization.CultureInfo.InvariantCulture));
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync(), $"job {jobId} has no queue entry");
        return reader.IsDBNull(0) ? null : reader.GetDateTime(0);
    }

    /// <summary>How many times workers were lost while running generation <paramref name="id"/>.</summary>
    public async Task<int> WorkerLossesAsync(Guid id) => await ColumnAsync<int?>(id, "worker_losses") ?? throw Missing(id);

    /// <summary>A place in the tables' history, from <see cref="MarkAsync"/>.</summary>
    public readonly record struct Mark(long GenerationSeq, long JobId);

    private async Task<T?> ColumnAsync<T>(Guid id, string column)
    {
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand($"select {column} from fusedream.generations where id = @id", connection);
        command.Parameters.AddWithValue("id", id);
        await using var reader = await command.ExecuteReaderAsync();
        if (!await reader.ReadAsync()) throw Missing(id);
        return reader.IsDBNull(0) ? default : reader.GetFieldValue<T>(0);
    }

    private async Task<IReadOnlyList<T>> ListAsync<T>(string sql, Guid? id)
    {
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        if (id is { } value) command.Parameters.AddWithValue("id", value);
        var list = new List<T>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync()) list.Add(reader.GetFieldValue<T>(0));
        return list;
    }

    private async Task ExecuteAsync(string sql, Guid? id, params (string Name, object Value)[] parameters)
    {
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        if (id is { } value) command.Parameters.AddWithValue("id", value);
        foreach (var (name, parameter) in parameters) command.Parameters.AddWithValue(name, parameter);
        var changed = await command.ExecuteNonQueryAsync();
        if (changed == 0 && id is not null) throw Missing(id.Value);
    }

    private async Task<NpgsqlConnection> OpenAsync()
    {
        var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync();
        return connection;
    }

    private static InvalidOperationException Missing(Guid id) => new($"generation {id} has no row");
}
