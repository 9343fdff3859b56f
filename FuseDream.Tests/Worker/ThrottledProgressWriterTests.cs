using FuseDream.Generation;
using FuseDream.Tests.Foundation;
using FuseDream.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using FuseDream.Persistence;
using FuseDream.Worker;

namespace FuseDream.Tests.Worker;

public class ThrottledProgressWriterTests
{
    [Fact]
    public async Task ManyEvents_AreWrittenAtMostOncePerInterval_AndTheLastOneIsKept()
    {
        var connectionString = await TestDatabase.CreateFreshAsync(nameof(ThrottledProgressWriterTests));
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        await new DatabaseMigrator(dataSource, NullLogger<DatabaseMigrator>.Instance).MigrateAsync(CancellationToken.None);
        var (_, record) = await new GenerationSubmissions(dataSource).CreateAsync(new NewGeneration(Guid.NewGuid(), null, "h", "p", 1, null, GenerationPresets.Fast), CancellationToken.None);
        Assert.NotNull(await new GenerationStateMachine(dataSource).ClaimAsync(record.Id, "w", CancellationToken.None));

        using var cancel = new CancellationTokenSource();
        var interval = TimeSpan.FromMilliseconds(100);
        var started = DateTime.UtcNow;
        var writer = new ThrottledProgressWriter(new ProgressStore(dataSource), record.Id, interval, cancel, NullLogger.Instance);
        for (var step = 1; step <= 500; step++)
        {
            writer.Report(new GenerationProgress(GenerationPhase.Optimizing, step, 500, null, TimeSpan.Zero, null));
            if (step % 50 == 0) await Task.Delay(50);
        }
        await writer.DisposeAsync();
        var elapsed = DateTime.UtcNow - started;

        Assert.InRange(writer.Writes, 1, (int)(elapsed / interval) + 1);
        var saved = await new GenerationRepository(dataSource).GetAsync(record.Id, CancellationToken.None);
        Assert.Equal(500, saved!.Progress!.Step);
        Assert.False(cancel.IsCancellationRequested);
    }

    [Fact]
    public async Task CancelFlagInTheRow_CancelsTheJob_WithoutANotification()
    {
        var connectionString = await TestDatabase.CreateFreshAsync(nameof(ThrottledProgressWriterTests) + "_flag");
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        await new DatabaseMigrator(dataSource, NullLogger<DatabaseMigrator>.Instance).MigrateAsync(CancellationToken.None);
        var (_, record) = await new GenerationSubmissions(dataSource).CreateAsync(new NewGeneration(Guid.NewGuid(), null, "h", "p", 1, null, GenerationPresets.Fast), CancellationToken.None);
        await new GenerationStateMachine(dataSource).ClaimAsync(record.Id, "w", CancellationToken.None);

        using var cancel = new CancellationTokenSource();
        await using (var writer = new ThrottledProgressWriter(new ProgressStore(dataSource), record.Id, TimeSpan.FromMilliseconds(20), cancel, NullLogger.Instance))
        {
            await new GenerationProbe(connectionString).FlagCancelAsync(record.Id);
            var deadline = DateTime.UtcNow.AddSeconds(5);
            while (!cancel.IsCancellationRequested && DateTime.UtcNow < deadline) await Task.Delay(10);
        }
        Assert.True(cancel.IsCancellationRequested);
    }
}
