using System.Text.Json;
using FuseDream.Generation;
using Npgsql;
using NpgsqlTypes;
using static FuseDream.Persistence.GenerationRows;

namespace FuseDream.Persistence;

/// <summary>
/// Reads of generations. What the API shows of a generation (its row, its queue position and
/// its previews) comes back in one statement, for one row or a whole page, so a page costs
/// one round trip however long it is. Every read is retried on a dropped pooled connection.
/// </summary>
public sealed class GenerationRepository(NpgsqlDataSource dataSource)
{
    /// <summary>How many of a generation's previews (the latest) come with its details; the rest are paged by <see cref="ListPreviewsAsync"/>.</summary>
    public const int PreviewLinks = 10;

    /// <summary>How many generations are in each status (the metrics' gauges); one statement, not retried (a scrape can wait for the next one).</summary>
    public async Task<IReadOnlyDictionary<string, long>> CountByStatusAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("select status, count(*) from fusedream.generations group by status");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var counts = new Dictionary<string, long>();
        while (await reader.ReadAsync(cancellationToken))
            counts[reader.GetString(0)] = reader.GetInt64(1);
        return counts;
    }

    /// <summary>The row alone, as the worker and the image and trace endpoints need it.</summary>
    public Task<GenerationRecord?> GetAsync(Guid id, CancellationToken cancellationToken) => GetAsync(id, null, cancellationToken);

    /// <summary>
    /// The row, if <paramref name="ownerKeyId"/> owns it (null: whoever owns it). Another
    /// owner's generation reads as missing, so its existence is not revealed.
    /// </summary>
    public Task<GenerationRecord?> GetAsync(Guid id, string? ownerKeyId, CancellationToken cancellationToken) => ReadRetryingAsync(dataSource, async () =>
    {
        await using var command = dataSource.CreateCommand($"select {Columns} from fusedream.generations where id = @id and {OwnedBy}");
        command.Parameters.AddWithValue("id", id);
        AddOwner(command, ownerKeyId);
        return await ReadOneAsync(command, cancellationToken);
    });

    /// <summary>The row with its queue position and previews, in one statement.</summary>
    public Task<GenerationDetails?> GetDetailsAsync(Guid id, CancellationToken cancellationToken) => GetDetailsAsync(id, null, cancellationToken);

    /// <summary>As <see cref="GetDetailsAsync(Guid, CancellationToken)"/>, for the generations <paramref name="ownerKeyId"/> owns (null: all).</summary>
    public Task<GenerationDetails?> GetDetailsAsync(Guid id, string? ownerKeyId, CancellationToken cancellationToken) => ReadRetryingAsync(dataSource, async () =>
    {
        await using var command = dataSource.CreateCommand(DetailsSql($"id = @id and {OwnedBy}"));
        command.Parameters.AddWithValue("id", id);
        AddOwner(command, ownerKeyId);
        command.Parameters.AddWithValue("limit", 1);
        var rows = await ReadDetailsAsync(command, cancellationToken);
        return rows.Count == 0 ? null : rows[0];
    });

    /// <summary>
    /// Newest first, each with its queue position and previews, in one statement;
    /// <paramref name="before"/> is the sequence of the last row of the previous page.
    /// </summary>
    public Task<(IReadOnlyList<GenerationDetails> Items, long? Next)> ListAsync(
        GenerationStatus? status, long? before, int limit, CancellationToken cancellationToken) =>
        ListAsync(status, before, limit, null, cancellationToken);

    /// <summary>As <see cref="ListAsync(GenerationStatus?, long?, int, CancellationToken)"/>, of the generations <paramref name="ownerKeyId"/> owns (null: all).</summary>
    public Task<(IReadOnlyList<GenerationDetails> Items, long? Next)> ListAsync(
        GenerationStatus? status, long? before, int limit, string? ownerKeyId, CancellationToken cancellationToken) =>
        ReadRetryingAsync<(IReadOnlyList<GenerationDetails>, long?)>(dataSource, async () =>
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        await using var command = dataSource.CreateCommand(
            DetailsSql($"(@status::text is null or status = @status) and (@before::bigint is null or seq < @before) and {OwnedBy}"));
        AddOwner(command, ownerKeyId);
        command.Parameters.Add(new NpgsqlParameter("status", NpgsqlDbType.Text) { Value = (object?)status?.ToName() ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("before", NpgsqlDbType.Bigint) { Value = (object?)before ?? DBNull.Value });
        command.Parameters.AddWithValue("limit", limit + 1);
        var rows = await ReadDetailsAsync(command, cancellationToken);
        return rows.Count > limit ? (rows.Take(limit).ToList(), rows[limit - 1].Record.Sequence) : (rows, null);
    });

    /// <summary>
    /// The queue position and previews of a row already in hand (a submit answers with the row
    /// it inserted, even if a worker has claimed it since), in one statement.
    /// </summary>
    public Task<GenerationDetails> DescribeAsync(GenerationRecord record, CancellationToken cancellationToken) => ReadRetryingAsync(dataSource, async () =>
    {
        await using var command = dataSource.CreateCommand(
            $"""
            select case when @in_queue then (select count(*) from fusedream.generations where status = @queued and seq <= @seq) end,
                   previews.steps, previews.keys, previews.count
            from ({LatestPreviews("@id")}) previews
            """);
        command.Parameters.AddWithValue("in_queue", record.Status == GenerationStatus.Queued);
        command.Parameters.AddWithValue("queued", GenerationStatus.Queued.ToName());
        command.Parameters.AddWithValue("seq", record.Sequence);
        command.Parameters.AddWithValue("id", record.Id);
        command.Parameters.AddWithValue("preview_links", PreviewLinks);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return new GenerationDetails(record, reader.IsDBNull(0) ? null : reader.GetInt64(0), Previews(reader, 1)) { PreviewCount = reader.GetInt32(3) };
    });

    /// <summary>The preview of <paramref name="id"/> at <paramref name="step"/>, or null.</summary>
    public Task<PreviewRecord?> GetPreviewAsync(Guid id, int step, CancellationToken cancellationToken) => ReadRetryingAsync(dataSource, async () =>
    {
        await using var command = dataSource.CreateCommand(
            "select step, blob_key from fusedream.generation_previews where generation_id = @id and step = @step");
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("step", step);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? new PreviewRecord(reader.GetInt32(0), reader.GetString(1)) : null;
    });

    /// <summary>
    /// A page of <paramref name="id"/>'s previews by step, after step <paramref name="after"/>
    /// (null: from the first); Next is the cursor of the following page, null on the last.
    /// </summary>
    public Task<(IReadOnlyList<PreviewRecord> Items, int? Next)> ListPreviewsAsync(Guid id, int? after, int limit, CancellationToken cancellationToken) =>
        ReadRetryingAsync<(IReadOnlyList<PreviewRecord>, int?)>(dataSource, async () =>
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        await using var command = dataSource.CreateCommand(
            """
            select step, blob_key from fusedream.generation_previews
            where generation_id = @id and (@after::int is null or step > @after)
            order by step limit @limit
            """);
        command.Parameters.AddWithValue("id", id);
        command.Parameters.Add(new NpgsqlParameter("after", NpgsqlDbType.Integer) { Value = (object?)after ?? DBNull.Value });
        command.Parameters.AddWithValue("limit", limit + 1);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var list = new List<PreviewRecord>();
        while (await reader.ReadAsync(cancellationToken))
            list.Add(new PreviewRecord(reader.GetInt32(0), reader.GetString(1)));
        return list.Count > limit ? (list.Take(limit).ToList(), list[limit - 1].Step) : (list, null);
    });

    public Task<IReadOnlyList<TracePoint>> GetTraceAsync(Guid id, CancellationToken cancellationToken) => ReadRetryingAsync<IReadOnlyList<TracePoint>>(dataSource, async () =>
    {
        await using var command = dataSource.CreateCommand(
            "select step, loss, aug_clip, prompt_aug_clip::text from fusedream.generation_trace where generation_id = @id order by ordinal");
        command.Parameters.AddWithValue("id", id);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var list = new List<TracePoint>();
        while (await reader.ReadAsync(cancellationToken))
            list.Add(new(reader.GetInt32(0), reader.GetDouble(1), reader.IsDBNull(2) ? null : reader.GetDouble(2))
            {
                PromptAugClip = reader.IsDBNull(3) ? null : JsonSerializer.Deserialize<ValueList<double>>(reader.GetString(3)),
            });
        return list;
    });

    /// <summary>A succeeded composed generation's <see cref="Composition.CompositionTrace"/> (both stages), or null.</summary>
    public Task<Composition.CompositionTrace?> GetCompositionTraceAsync(Guid id, CancellationToken cancellationToken) => ReadRetryingAsync(dataSource, async () =>
    {
        await using var command = dataSource.CreateCommand("select composition_trace::text from fusedream.generations where id = @id");
        command.Parameters.AddWithValue("id", id);
        return await command.ExecuteScalarAsync(cancellationToken) is string json ? Composition.CompositionTrace.FromJson(json) : null;
    });

    /// <summary>The owner filter: <c>@owner</c> null matches every row.</summary>
    private const string OwnedBy = "(@owner::text is null or owner_key_id = @owner)";

    private static void AddOwner(NpgsqlCommand command, string? ownerKeyId) =>
        command.Parameters.Add(new NpgsqlParameter("owner", NpgsqlDbType.Text) { Value = (object?)ownerKeyId ?? DBNull.Value });

    /// <summary>
    /// Rows matching <paramref name="where"/>, newest first, up to <c>@limit</c>; after the row's
    /// columns: its 1-based position among queued rows (oldest first; a window count over the
    /// queued rows, null when not queued) and its preview steps and blob keys (aggregated in a
    /// lateral subquery, null when none).
    /// </summary>
    private static string DetailsSql(string where) =>
        $"""
        with page as (
            select {Columns} from fusedream.generations
            where {where}
            order by seq desc
            limit @limit),
        queue as (
            select id, count(*) over (order by seq) as position
            from fusedream.generations where status = @queued)
        select {Columns}, queue.position, previews.steps, previews.keys, previews.count
        from page
        left join queue using (id)
        left join lateral ({LatestPreviews("page.id")}) previews on true
        order by seq desc
        """;

    /// <summary>
    /// One row: the steps and blob keys of the latest <c>@preview_links</c> previews of
    /// <paramref name="generationId"/> (oldest first; null when none) and how many it has.
    /// </summary>
    private static string LatestPreviews(string generationId) =>
        $"""
        select array_agg(latest.step order by latest.step) as steps, array_agg(latest.blob_key order by latest.step) as keys,
               (select count(*)::int from fusedream.generation_previews c where c.generation_id = {generationId}) as count
        from (select p.step, p.blob_key from fusedream.generation_previews p
              where p.generation_id = {generationId} order by p.step desc limit @preview_links) latest
        """;

    private static async Task<List<GenerationDetails>> ReadDetailsAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        command.Parameters.AddWithValue("queued", GenerationStatus.Queued.ToName());
        command.Parameters.AddWithValue("preview_links", PreviewLinks);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var list = new List<GenerationDetails>();
        while (await reader.ReadAsync(cancellationToken))
        {
            var record = Read(reader);
            var position = reader.IsDBNull(ColumnCount) ? (long?)null : reader.GetInt64(ColumnCount);
            // The window counts a row that is queued now; the row read in the same statement agrees.
            list.Add(new GenerationDetails(record, record.Status == GenerationStatus.Queued ? position : null, Previews(reader, ColumnCount + 1))
            {
                PreviewCount = reader.GetInt32(ColumnCount + 3),
            });
        }
        return list;
    }

    private static IReadOnlyList<PreviewRecord> Previews(NpgsqlDataReader reader, int stepsColumn)
    {
        if (reader.IsDBNull(stepsColumn)) return [];
        var steps = reader.GetFieldValue<int[]>(stepsColumn);
        var keys = reader.GetFieldValue<string[]>(stepsColumn + 1);
        return [.. steps.Select((step, i) => new PreviewRecord(step, keys[i]))];
    }
}
