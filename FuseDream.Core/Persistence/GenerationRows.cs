using System.Text.Json;
using FuseDream.Generation;
using Npgsql;

namespace FuseDream.Persistence;

/// <summary>
/// How a <c>fusedream.generations</c> row is selected and read back, shared by every class that
/// returns rows, and the retry that makes reads survive a dropped pooled connection.
/// </summary>
internal static class GenerationRows
{
    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>The columns <see cref="Read"/> expects, in its order.</summary>
    internal const string Columns =
        "id, seq, idempotency_key, request_hash, prompt, model, seed, preset, options, status, cancel_requested, attempts, " +
        "worker, job_id, created_at, started_at, finished_at, phase, step, total, aug_clip, eta_seconds, progress_at, score, image_key, error, " +
        "owner_key_id, webhook_url, webhook_events, components, composition, component_image_keys, composite_image_key, progress_component, progress_components";

    /// <summary>How many columns <see cref="Columns"/> names: further columns of a query follow them.</summary>
    internal const int ColumnCount = 35;

    /// <summary>The database names of <paramref name="statuses"/>, for a <c>status = any(@param)</c> guard.</summary>
    internal static string[] Names(IEnumerable<GenerationStatus> statuses) => [.. statuses.Select(s => s.ToName())];

    /// <summary>
    /// Reads are side-effect free, so a read that meets a dead pooled connection (the server
    /// restarted or ended the session) is retried on a fresh one, after dropping the idle
    /// connections that died with it.
    /// </summary>
    internal static async Task<T> ReadRetryingAsync<T>(NpgsqlDataSource dataSource, Func<Task<T>> read)
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

    internal static async Task<GenerationRecord?> ReadOneAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    internal static GenerationRecord Read(NpgsqlDataReader r)
    {
        string? S(int i) => r.IsDBNull(i) ? null : r.GetString(i);
        DateTimeOffset? T(int i) => r.IsDBNull(i) ? null : r.GetFieldValue<DateTimeOffset>(i);
        double? D(int i) => r.IsDBNull(i) ? null : r.GetDouble(i);
        GenerationProgressRecord? progress = null;
        if (!r.IsDBNull(17) && Enum.TryParse<GenerationPhase>(r.GetString(17), out var phase))
            progress = new(phase, r.IsDBNull(18) ? 0 : r.GetInt32(18), r.IsDBNull(19) ? 0 : r.GetInt32(19), D(20),
                D(21) is { } eta ? TimeSpan.FromSeconds(eta) : null, T(22) ?? DateTimeOffset.UtcNow)
            {
                Component = r.IsDBNull(33) ? null : r.GetInt32(33),
                Components = r.IsDBNull(34) ? null : r.GetInt32(34),
            };
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
            OwnerKeyId = S(26),
            WebhookUrl = S(27),
            WebhookEvents = r.IsDBNull(28) ? [] : r.GetFieldValue<string[]>(28),
            Scene = r.IsDBNull(29) ? null : new FuseDream.Composition.ComposedScene(
                JsonSerializer.Deserialize<List<FuseDream.Composition.SceneComponent>>(r.GetString(29), Json)!,
                r.IsDBNull(30) ? new FuseDream.Composition.CompositionOptions() : JsonSerializer.Deserialize<FuseDream.Composition.CompositionOptions>(r.GetString(30), Json)!),
            ComponentImageKeys = r.IsDBNull(31) ? [] : r.GetFieldValue<string[]>(31),
            CompositeImageKey = S(32),
        };
    }
}
