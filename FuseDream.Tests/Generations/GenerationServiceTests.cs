using FuseDream.Generation;
using FuseDream.Generations;
using FuseDream.Persistence;
using FuseDream.Queue;
using FuseDream.Tests.Foundation;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;

using FuseDream.Tests.Support;

namespace FuseDream.Tests.Generations;

/// <summary>
/// The submit protocol when the queue refuses the job: the real Hangfire storage with its job
/// table taken away for a moment, next to the real rows.
/// </summary>
public class GenerationServiceTests
{
    private static GenerationSubmission Submission(string key) =>
        new("a blue dog", 7, "fast", GenerationPresets.Fast, "hash-" + key, key);

    [Fact]
    public async Task QueueRefusesANewGeneration_NothingIsStored_AndARetryWithTheKeyStartsClean()
    {
        var (dataSource, service) = await DatabaseAsync("_new");
        await using var owned = dataSource;
        var repository = new GenerationRepository(dataSource);

        await BreakQueueAsync(dataSource);
        var refused = await service.SubmitAsync(Submission("k-new"), CancellationToken.None);

        Assert.Equal(new SubmitOutcome.QueueUnavailable(Replayed: false), refused);
        Assert.Empty((await repository.ListAsync(null, null, 10, CancellationToken.None)).Items);
        await RepairQueueAsync(dataSource);
        var retried = Assert.IsType<SubmitOutcome.Accepted>(await service.SubmitAsync(Submission("k-new"), CancellationToken.None));
        Assert.False(retried.Replayed);
        Assert.NotNull((await repository.GetAsync(retried.Generation.Record.Id, CancellationToken.None))!.JobId);
    }

    [Fact]
    public async Task QueueRefusesAnAdoptedRow_ItStaysStored_AndTheNextReplayEnqueuesIt()
    {
        var (dataSource, service) = await DatabaseAsync("_adopt");
        await using var owned = dataSource;
        var repository = new GenerationRepository(dataSource);
        // What a request that stopped between commit and enqueue leaves: a queued row, no job, not fresh.
        var (_, orphan) = await new GenerationSubmissions(dataSource).CreateAsync(
            new NewGeneration(Guid.CreateVersion7(), "k-orphan", "hash-k-orphan", "a blue dog", 7, "fast", GenerationPresets.Fast), CancellationToken.None);
        await using (var age = dataSource.CreateCommand($"update fusedream.generations set created_at = now() - interval '1 minute' where id = '{orphan.Id}'"))
            await age.ExecuteNonQueryAsync();

        await BreakQueueAsync(dataSource);
        var refused = await service.SubmitAsync(Submission("k-orphan"), CancellationToken.None);

        Assert.Equal(new SubmitOutcome.QueueUnavailable(Replayed: true), refused);
        var kept = await repository.GetAsync(orphan.Id, CancellationToken.None);
        Assert.Equal(GenerationStatus.Queued, kept!.Status);
        Assert.Null(kept.JobId);
        await RepairQueueAsync(dataSource);
        var replayed = Assert.IsType<SubmitOutcome.Accepted>(await service.SubmitAsync(Submission("k-orphan"), CancellationToken.None));
        Assert.True(replayed.Replayed);
        Assert.Equal(orphan.Id, replayed.Generation.Record.Id);
        var jobId = (await repository.GetAsync(orphan.Id, CancellationToken.None))!.JobId;
        Assert.True(long.TryParse(jobId, out _), $"job id '{jobId}'");
    }

    private static async Task<(NpgsqlDataSource, GenerationService)> DatabaseAsync(string suffix)
    {
        var connectionString = await TestDatabase.CreateFreshAsync(nameof(GenerationServiceTests) + suffix);
        var dataSource = NpgsqlDataSource.Create(connectionString);
        await new DatabaseMigrator(dataSource, NullLogger<DatabaseMigrator>.Instance).MigrateAsync(CancellationToken.None);
        var queue = new GenerationQueue(Options.Create(new DatabaseOptions { ConnectionString = connectionString }), Options.Create(new QueueOptions()));
        _ = queue.Storage; // installs Hangfire's schema
        var service = OneMachineGenerationService.Create(dataSource, queue);
        return (dataSource, service);
    }

    /// <summary>Every enqueue fails (on a missing table) until <see cref="RepairQueueAsync"/>.</summary>
    private static Task BreakQueueAsync(NpgsqlDataSource dataSource) => ExecuteAsync(dataSource, "alter table hangfire.job rename to job_away");

    private static Task RepairQueueAsync(NpgsqlDataSource dataSource) => ExecuteAsync(dataSource, "alter table hangfire.job_away rename to job");

    private static async Task ExecuteAsync(NpgsqlDataSource dataSource, string sql)
    {
        await using var command = dataSource.CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
    }
}
