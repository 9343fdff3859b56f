using Hangfire;
using Hangfire.Common;
using Hangfire.PostgreSql;
using Hangfire.PostgreSql.Factories;
using Hangfire.States;
using Microsoft.Extensions.Options;
using FuseDream.Persistence;
using FuseDream.Worker;

namespace FuseDream.Queue;

/// <summary>
/// The Hangfire storage and client for generation jobs. Built as an instance (not through
/// Hangfire's static <c>GlobalConfiguration</c>) so that several hosts in one process — the
/// integration tests — each talk to their own database.
/// </summary>
internal sealed class GenerationQueue
{
    private readonly Lazy<PostgreSqlStorage> _storage;
    private readonly Lazy<BackgroundJobClient> _client;
    private readonly string _connectionString;
    private readonly string _schema;

    public GenerationQueue(IOptions<DatabaseOptions> database, IOptions<QueueOptions> queue)
    {
        var options = queue.Value;
        var storageOptions = new PostgreSqlStorageOptions
        {
            SchemaName = options.Schema,
            PrepareSchemaIfNecessary = true,
            QueuePollInterval = options.PollInterval,
            // Sliding: the worker running a job keeps extending its invisibility, so a long
            // generation is never handed out twice while its worker lives.
            UseSlidingInvisibilityTimeout = true,
            InvisibilityTimeout = options.InvisibilityTimeout,
            EnableLongPolling = true,
        };
        var connectionString = database.Value.ConnectionString;
        _connectionString = connectionString;
        _schema = options.Schema;
        // PublicationOnly: a failure (database down at that moment) is not cached; the next use tries again.
        _storage = new(() => new PostgreSqlStorage(new NpgsqlConnectionFactory(connectionString, storageOptions), storageOptions),
            LazyThreadSafetyMode.PublicationOnly);
        Filters = new JobFilterProviderCollection(
            new JobFilterCollection
            {
                // Bounded retries for transient failures. GenerationJob itself decides what is
                // transient: it swallows (and records) permanent failures, so only transient
                // ones reach this filter.
                new AutomaticRetryAttribute
                {
                    Attempts = options.MaxRetries,
                    DelaysInSeconds = options.EffectiveRetryDelaysSeconds,
                    OnAttemptsExceeded = AttemptsExceededAction.Fail,
                },
                // A retried or requeued job goes back to the queue of its model. Last, so that it
                // sees the Enqueued state the retry filter elects (at once when its delay is zero).
                { new ModelQueueFilter(), int.MaxValue },
            },
            new JobFilterAttributeFilterProvider());
        _client = new(() => new BackgroundJobClient(_storage.Value, Filters), LazyThreadSafetyMode.PublicationOnly);
    }

    /// <summary>The Hangfire storage; created (and its schema installed) on first use.</summary>
    public JobStorage Storage => _storage.Value;

    /// <summary>The filters both the client and the server apply (retries, queue).</summary>
    public IJobFilterProvider Filters { get; }

    /// <summary>
    /// Enqueues the job of a generation on the queue of its <paramref name="model"/>
    /// (<see cref="QueueOptions.QueueOf"/>), which only workers serving that model listen on;
    /// the job carries only the id.
    /// </summary>
    public string Enqueue(Guid generationId, string model) =>
        _client.Value.Create(
            Job.FromExpression<GenerationJob>(job => job.RunAsync(generationId, null, CancellationToken.None)),
            new EnqueuedState(QueueOptions.QueueOf(model)));

    /// <summary>
    /// Makes a job whose worker died fetchable again at once, ahead of younger jobs: its queue
    /// entry (still marked fetched by the dead worker, so invisible until the invisibility
    /// timeout) is marked never-fetched. Hangfire.PostgreSql hands out never-fetched entries
    /// first, in job-id order, so this older job goes before every job submitted after it; the
    /// entry is the same one, so the job is never queued twice. Returns whether an entry changed.
    /// </summary>
    public async Task<bool> ReleaseFetchedAsync(string jobId, CancellationToken cancellationToken)
    {
        if (!long.TryParse(jobId, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var id)) return false;
        await using var connection = new Npgsql.NpgsqlConnection(_connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new Npgsql.NpgsqlCommand(
            $"update \"{_schema}\".jobqueue set fetchedat = null where jobid = @job and fetchedat is not null", connection);
        command.Parameters.AddWithValue("job", id);
        var changed = await command.ExecuteNonQueryAsync(cancellationToken) > 0;
        if (changed)
        {
            // Wakes the servers that long-poll (Hangfire.PostgreSql's channel for new jobs).
            await using var notify = new Npgsql.NpgsqlCommand("notify new_job", connection);
            await notify.ExecuteNonQueryAsync(cancellationToken);
        }
        return changed;
    }

    /// <summary>Drops a job that should no longer run (its generation was canceled while queued).</summary>
    public bool Delete(string jobId) => _client.Value.Delete(jobId);
}
