using System.Diagnostics;
using FuseDream.Generation;
using FuseDream.Persistence;
using FuseDream.Tests.Foundation;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace FuseDream.Tests.Persistence;

public class GenerationRepositoryTests
{
    [Fact]
    public async Task ListPage_ReturnsQueuePositionsAndPreviews_InOneStatement()
    {
        var connectionString = await TestDatabase.CreateFreshAsync(nameof(GenerationRepositoryTests));
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        await new DatabaseMigrator(dataSource, NullLogger<DatabaseMigrator>.Instance).MigrateAsync(CancellationToken.None);
        var submissions = new GenerationSubmissions(dataSource);
        var states = new GenerationStateMachine(dataSource);
        var progress = new ProgressStore(dataSource);
        var ids = new List<Guid>();
        for (var i = 0; i < 21; i++)
        {
            var (_, record) = await submissions.CreateAsync(
                new NewGeneration(Guid.CreateVersion7(), null, "h", $"prompt {i}", i, null, GenerationPresets.Fast), CancellationToken.None);
            ids.Add(record.Id);
        }
        // The two oldest leave the queue (0 canceled, 1 running with previews); the rest wait.
        Assert.Equal(GenerationStatus.Canceled, (await states.CancelAsync(ids[0], CancellationToken.None))?.Status);
        Assert.NotNull(await states.ClaimAsync(ids[1], "w", CancellationToken.None));
        await progress.SavePreviewAsync(ids[1], 20, "blob-20", CancellationToken.None);
        await progress.SavePreviewAsync(ids[1], 10, "blob-10", CancellationToken.None);
        var repository = new GenerationRepository(dataSource);

        var (page, next) = await CountingStatementsAsync(1, () => repository.ListAsync(null, null, 20, CancellationToken.None));

        Assert.Equal(Enumerable.Reverse(ids).Take(20), page.Select(g => g.Record.Id));
        Assert.Equal(page[^1].Record.Sequence, next);
        // Queued rows 2..20 stand at 1..19 in the queue, oldest first; the others have no place in it.
        Assert.Equal(Enumerable.Range(2, 19).Select(i => (long?)(i - 1)).Reverse(), page.Take(19).Select(g => g.QueuePosition));
        var running = page[^1];
        Assert.Equal(GenerationStatus.Running, running.Record.Status);
        Assert.Null(running.QueuePosition);
        Assert.Equal([new PreviewRecord(10, "blob-10"), new PreviewRecord(20, "blob-20")], running.Previews);
        Assert.All(page.Take(19), g => Assert.Empty(g.Previews));

        var (rest, end) = await repository.ListAsync(null, next, 20, CancellationToken.None);
        Assert.Equal([ids[0]], rest.Select(g => g.Record.Id));
        Assert.Null(end);
        Assert.Equal(GenerationStatus.Canceled, rest[0].Record.Status);
        Assert.Null(rest[0].QueuePosition);
        var (queued, _) = await repository.ListAsync(GenerationStatus.Queued, null, 5, CancellationToken.None);
        Assert.Equal([19L, 18, 17, 16, 15], queued.Select(g => g.QueuePosition));

        var one = await CountingStatementsAsync(1, () => repository.GetDetailsAsync(ids[1], CancellationToken.None));
        Assert.Equal(running, one! with { Previews = running.Previews });
        Assert.Equal(running.Previews, one.Previews);
        Assert.Equal(19, (await repository.GetDetailsAsync(ids[20], CancellationToken.None))!.QueuePosition);
        Assert.Null(await repository.GetDetailsAsync(Guid.NewGuid(), CancellationToken.None));
    }

    /// <summary>Runs <paramref name="read"/> and asserts how many statements Npgsql executed for it.</summary>
    private static async Task<T> CountingStatementsAsync<T>(int expected, Func<Task<T>> read)
    {
        using var scope = new Activity("counted read").Start();
        var trace = scope.TraceId;
        var statements = 0;
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "Npgsql",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
            ActivityStarted = activity =>
            {
                if (activity.TraceId == trace && activity.OperationName != "connect") Interlocked.Increment(ref statements);
            },
        };
        ActivitySource.AddActivityListener(listener);
        var result = await read();
        Assert.Equal(expected, statements);
        return result;
    }
}
