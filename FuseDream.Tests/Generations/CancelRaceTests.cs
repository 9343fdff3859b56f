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
/// A cancel that arrives just as a worker takes the generation: whatever the interleaving, the
/// answer must describe one moment of the row. Either the cancel came first (canceled, and the
/// worker's claim gets nothing) or the claim did (running with its cancel flag set, so the run
/// stops within a step); never "already finished" for a generation that is queued or running.
/// The worker's side is driven through the same state machine calls the job makes, without
/// a pipeline, so the two statements meet as often as possible.
/// </summary>
public class CancelRaceTests : IAsyncLifetime
{
    private const int Iterations = 200;

    private NpgsqlDataSource _dataSource = null!;
    private GenerationService _service = null!;
    private GenerationSubmissions _submissions = null!;
    private GenerationStateMachine _states = null!;
    private GenerationRepository _repository = null!;

    public async Task InitializeAsync()
    {
        var connectionString = await TestDatabase.CreateFreshAsync(nameof(CancelRaceTests));
        _dataSource = NpgsqlDataSource.Create(connectionString);
        await new DatabaseMigrator(_dataSource, NullLogger<DatabaseMigrator>.Instance).MigrateAsync(CancellationToken.None);
        var queue = new GenerationQueue(Options.Create(new DatabaseOptions { ConnectionString = connectionString }), Options.Create(new QueueOptions()));
        _submissions = new GenerationSubmissions(_dataSource);
        _states = new GenerationStateMachine(_dataSource);
        _repository = new GenerationRepository(_dataSource);
        _service = OneMachineGenerationService.Create(_dataSource, queue, _submissions, _states, _repository);
    }

    public async Task DisposeAsync() => await _dataSource.DisposeAsync();

    [Fact]
    public async Task Cancel_RacingAClaim_IsEitherCanceledOrRequested()
    {
        var canceled = 0;
        var requested = 0;
        for (var i = 0; i < Iterations; i++)
        {
            var id = await QueuedAsync($"claim race {i}");
            var claim = Task.Run(() => _states.ClaimAsync(id, "racer", CancellationToken.None));
            var cancel = Task.Run(() => _service.CancelAsync(id, CancellationToken.None));
            await Task.WhenAll(claim, cancel);
            var row = (await _repository.GetAsync(id, CancellationToken.None))!;

            switch (await cancel)
            {
                case CancelOutcome.Canceled answer:
                    Assert.Null(await claim);
                    Assert.Equal(GenerationStatus.Canceled, answer.Generation.Record.Status);
                    Assert.Equal(GenerationStatus.Canceled, row.Status);
                    canceled++;
                    break;
                case CancelOutcome.Requested answer:
                    Assert.NotNull(await claim);
                    Assert.Equal(GenerationStatus.Running, answer.Generation.Record.Status);
                    Assert.Equal(GenerationStatus.Running, row.Status);
                    Assert.True(row.CancelRequested, $"iteration {i}: the cancel answered 'requested' but the running row has no cancel flag");
                    requested++;
                    break;
                case var other:
                    Assert.Fail($"iteration {i}: a cancel racing a claim answered {other.GetType().Name}; the row is {row.Status}");
                    break;
            }
        }
        Assert.Equal(Iterations, canceled + requested);
    }

    [Fact]
    public async Task Cancel_WhileAWorkerHandsTheRowBackAndClaimsItAgain_IsNeverAlreadyFinished()
    {
        // A worker whose run keeps ending in a hand-back (a stopping worker, a transient failure)
        // while the next delivery claims the row again: between any two statements of a cancel
        // the row may have moved between queued and running, but it is never finished.
        for (var i = 0; i < Iterations; i++)
        {
            var id = await QueuedAsync($"flip race {i}");
            using var stop = new CancellationTokenSource();
            var worker = Task.Run(async () =>
            {
                var claims = 0;
                while (!stop.IsCancellationRequested)
                {
                    var claimed = await _states.ClaimAsync(id, "flipper", CancellationToken.None);
                    // What the job does: nothing to run once canceled, and a flagged claim is not run either.
                    if (claimed is null || claimed.CancelRequested) return claims;
                    claims++;
                    await _states.RequeueAsync(id, null, CancellationToken.None);
                }
                return claims;
            });
            var outcome = await Task.Run(() => _service.CancelAsync(id, CancellationToken.None));
            await stop.CancelAsync();
            await worker;

            Assert.True(outcome is CancelOutcome.Canceled or CancelOutcome.Requested,
                $"iteration {i}: a cancel of a generation that was only ever queued or running answered {outcome.GetType().Name}");
            var record = outcome switch
            {
                CancelOutcome.Canceled c => c.Generation.Record,
                CancelOutcome.Requested r => r.Generation.Record,
                _ => throw new InvalidOperationException(),
            };
            Assert.True(record.CancelRequested, $"iteration {i}: the answer's row has no cancel flag");
            Assert.Equal(outcome is CancelOutcome.Canceled ? GenerationStatus.Canceled : GenerationStatus.Running, record.Status);
        }
    }

    private async Task<Guid> QueuedAsync(string prompt)
    {
        var (_, record) = await _submissions.CreateAsync(
            new NewGeneration(Guid.CreateVersion7(), null, "h", prompt, 7, "fast", GenerationPresets.Fast), CancellationToken.None);
        return record.Id;
    }
}
