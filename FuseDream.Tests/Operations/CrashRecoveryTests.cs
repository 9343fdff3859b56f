using FuseDream.Generation;
using FuseDream.Persistence;
using FuseDream.Queue;
using FuseDream.Telemetry;
using FuseDream.Tests.Foundation;
using FuseDream.Tests.Support;
using FuseDream.Worker;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;

namespace FuseDream.Tests.Operations;

/// <summary>
/// Crash recovery on a real database and Hangfire queue, one pass at a time: a generation
/// whose worker stopped heartbeating goes back to queued and its queue entry is fetched next,
/// before a younger job that was never fetched; a generation that keeps losing its workers is
/// failed after the retry limit instead of looping.
/// </summary>
public sealed class CrashRecoveryTests : IAsyncLifetime
{
    private const int MaxRetries = 2;
    private static readonly TimeSpan HeartbeatTimeout = TimeSpan.FromSeconds(10);

    private NpgsqlDataSource _dataSource = null!;
    private GenerationQueue _queue = null!;
    private GenerationSubmissions _submissions = null!;
    private GenerationStateMachine _states = null!;
    private WorkerRegistry _workers = null!;
    private CrashRecovery _recovery = null!;
    private GenerationProbe _probe = null!;

    public async Task InitializeAsync()
    {
        var connectionString = await TestDatabase.CreateFreshAsync(nameof(CrashRecoveryTests));
        _dataSource = NpgsqlDataSource.Create(connectionString);
        await new DatabaseMigrator(_dataSource, NullLogger<DatabaseMigrator>.Instance).MigrateAsync(CancellationToken.None);
        _queue = new GenerationQueue(Options.Create(new DatabaseOptions { ConnectionString = connectionString }), Options.Create(new QueueOptions()));
        _ = _queue.Storage; // installs Hangfire's schema
        _submissions = new GenerationSubmissions(_dataSource);
        _states = new GenerationStateMachine(_dataSource);
        _workers = new WorkerRegistry(_dataSource);
        var workerOptions = Options.Create(new WorkerOptions { HeartbeatInterval = TimeSpan.FromSeconds(1), HeartbeatTimeout = HeartbeatTimeout });
        var metrics = new FuseDreamMetrics(new GenerationRepository(_dataSource), _workers, workerOptions, NullLogger<FuseDreamMetrics>.Instance);
        _recovery = new CrashRecovery(_workers, _states, _queue, metrics, workerOptions, NullLogger<CrashRecovery>.Instance);
        _probe = new GenerationProbe(connectionString);
    }

    public async Task DisposeAsync() => await _dataSource.DisposeAsync();

    private async Task<(Guid Id, string JobId)> EnqueuedAsync(string prompt)
    {
        var (_, record) = await _submissions.CreateAsync(new NewGeneration(Guid.NewGuid(), null, "h-" + prompt, prompt, 1, "fast",
            GenerationPresets.Fast with { Steps = 2 }), CancellationToken.None);
        var jobId = _queue.Enqueue(record.Id, record.Model);
        await _submissions.SetJobIdAsync(record.Id, jobId, CancellationToken.None);
        return (record.Id, jobId);
    }

    /// <summary>A worker's Hangfire fetch: the next queue entry by Hangfire.PostgreSql's own order.</summary>
    private string Fetch()
    {
        using var connection = _queue.Storage.GetConnection();
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var fetched = connection.FetchNextJob([QueueOptions.QueueOf("biggan-256")], limit.Token);
        return fetched.JobId; // left unfinished: as far as the queue knows, its worker is still on it
    }

    [Fact]
    public async Task DeadWorkersGeneration_IsQueuedAgain_AndFetchedBeforeAYoungerJob()
    {
        var orphan = await EnqueuedAsync("its worker died");
        Assert.Equal(orphan.JobId, Fetch());
        await _workers.HeartbeatAsync("ghost", ["biggan-256"], 1, DateTimeOffset.UtcNow, CancellationToken.None);
        Assert.NotNull(await _states.ClaimAsync(orphan.Id, "ghost", CancellationToken.None, orphan.JobId));
        var younger = await EnqueuedAsync("submitted after it");

        // While the worker's heartbeat is fresh, nothing is recovered.
        Assert.Empty(await _recovery.RecoverAsync(CancellationToken.None));
        Assert.Equal("running", await _probe.StatusAsync(orphan.Id));

        // The worker died: its heartbeat ages past the timeout.
        await _probe.AgeHeartbeatAsync("ghost", TimeSpan.FromMinutes(1));
        Assert.Equal([orphan.Id], await _recovery.RecoverAsync(CancellationToken.None));
        Assert.Equal("queued", await _probe.StatusAsync(orphan.Id));
        Assert.Null(await _probe.WorkerAsync(orphan.Id));
        Assert.Equal(1, await _probe.WorkerLossesAsync(orphan.Id));
        Assert.Null(await _probe.QueueEntryFetchedAtAsync(orphan.JobId));
        // A second pass finds nothing more to do.
        Assert.Empty(await _recovery.RecoverAsync(CancellationToken.None));

        // The next fetch takes the orphan, though the younger job was never fetched; then the younger one.
        Assert.Equal(orphan.JobId, Fetch());
        Assert.Equal(younger.JobId, Fetch());
        Assert.Equal(1, await _probe.JobsOfAsync(orphan.Id));
    }

    [Fact]
    public async Task GenerationThatKeepsKillingItsWorkers_IsFailedAfterTheRetryLimit_WithAClearError()
    {
        var (id, jobId) = await EnqueuedAsync("kills every worker that runs it");
        for (var loss = 1; loss <= MaxRetries + 1; loss++)
        {
            // A worker takes it (and is not failed yet: the losses so far are within the limit) ...
            Assert.NotNull(await _states.ClaimAsync(id, $"worker-{loss}", CancellationToken.None, jobId));
            Assert.Null(await _states.FailLostTooOftenAsync(id, MaxRetries, "too often", CancellationToken.None));
            // ... and dies without a heartbeat: recovery puts it back.
            Assert.Equal([id], await _recovery.RecoverAsync(CancellationToken.None));
            Assert.Equal(loss, await _probe.WorkerLossesAsync(id));
        }
        // The next worker's claim finds it has killed more than MaxRetries workers, and fails it.
        Assert.NotNull(await _states.ClaimAsync(id, "worker-last", CancellationToken.None, jobId));
        var failed = await _states.FailLostTooOftenAsync(id, MaxRetries, "The workers running this generation died 3 times", CancellationToken.None);
        Assert.NotNull(failed);
        Assert.Equal(GenerationStatus.Failed, failed.Status);
        Assert.Equal("failed", await _probe.StatusAsync(id));
        Assert.Empty(await _recovery.RecoverAsync(CancellationToken.None));
    }

    [Fact]
    public async Task ReDeliveryAfterTheInvisibilityTimeout_CountsALossToo()
    {
        var (id, jobId) = await EnqueuedAsync("re-delivered by the queue");
        Assert.NotNull(await _states.ClaimAsync(id, "first", CancellationToken.None, jobId));
        Assert.Equal(0, await _probe.WorkerLossesAsync(id));
        // The queue handed the job out again while the row still says running: the first run died.
        Assert.NotNull(await _states.ClaimAsync(id, "second", CancellationToken.None, jobId));
        Assert.Equal(1, await _probe.WorkerLossesAsync(id));
    }
}
