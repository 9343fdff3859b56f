using FuseDream.Generation;
using Npgsql;
using NpgsqlTypes;

namespace FuseDream.Persistence;

/// <summary>
/// What a running job reports besides state changes: its latest progress, its previews, and
/// whether it should stop. Progress writes are guarded by the running state, so a late write
/// of a run that lost its generation changes nothing.
/// </summary>
internal sealed class ProgressStore(NpgsqlDataSource dataSource)
{
    /// <summary>Writes the latest progress of a running generation; returns whether cancellation was requested (the polling half of cancellation).</summary>
    public async Task<bool> WriteProgressAsync(Guid id, GenerationProgress progress, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            """
            update fusedream.generations
            set phase = @phase, step = @step, total = @total, aug_clip = coalesce(@aug, aug_clip), eta_seconds = @eta, progress_at = now(),
                progress_component = @component, progress_components = @components
            where id = @id and status = @running
            returning cancel_requested
            """);
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("running", GenerationStatus.Running.ToName());
        command.Parameters.AddWithValue("phase", progress.Phase.ToString());
        command.Parameters.AddWithValue("step", progress.Step);
        command.Parameters.AddWithValue("total", progress.Total);
        command.Parameters.Add(new NpgsqlParameter("aug", NpgsqlDbType.Double) { Value = (object?)progress.AugClip ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("eta", NpgsqlDbType.Double) { Value = (object?)progress.Eta?.TotalSeconds ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("component", NpgsqlDbType.Integer) { Value = (object?)progress.Component ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("components", NpgsqlDbType.Integer) { Value = (object?)progress.Components ?? DBNull.Value });
        // No row: the generation is no longer running (canceled while queued, or finished) — stop.
        return await command.ExecuteScalarAsync(cancellationToken) is not false;
    }

    /// <summary>Whether the job should stop: cancellation was requested, or the generation is no longer running.</summary>
    public async Task<bool> IsCancelRequestedAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("select cancel_requested or status <> @running from fusedream.generations where id = @id");
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("running", GenerationStatus.Running.ToName());
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
}
