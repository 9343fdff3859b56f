using FuseDream.Generation;
using FuseDream.Tests.Api;
using FuseDream.Tests.Foundation;
using FuseDream.Tests.Support;
using FuseDream.Worker.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using FuseDream.Models;
using FuseDream.Persistence;
using FuseDream.Queue;
using FuseDream.Worker;

namespace FuseDream.Tests.Worker;

public class WorkerHostTests
{
    private static readonly TimeSpan HangGuard = TimeSpan.FromMinutes(2);

    private static string[] Args(string connectionString, string blobs, string name) =>
    [
        .. ServiceFactory.Settings(connectionString, blobs).Select(s => $"--{s.Key}={s.Value}"),
        $"--Worker:Name={name}",
    ];

    private static IHost Build(string connectionString, string blobs, string name, TestPipelineFactory? pipelines, params string[] extra) =>
        WorkerHost.Build([.. Args(connectionString, blobs, name), .. extra], services =>
        {
            if (pipelines is not null) services.AddSingleton<IGenerationPipelineFactory>(pipelines);
        });

    [Fact]
    public async Task GracefulShutdown_PutsTheRunningJobBackInTheQueue_AndTheNextWorkerFinishesIt()
    {
        var connectionString = await TestDatabase.CreateFreshAsync(nameof(WorkerHostTests));
        var blobs = Directory.CreateTempSubdirectory("fusedream-worker-").FullName;
        var slow = new TestPipelineFactory { StepDelay = TimeSpan.FromMilliseconds(20) };
        var first = Build(connectionString, blobs, "worker-a", slow);
        await first.StartAsync();
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        var store = new GenerationRepository(dataSource);
        var submissions = new GenerationSubmissions(dataSource);
        var queue = first.Services.GetRequiredService<GenerationQueue>();
        var (_, record) = await submissions.CreateAsync(new NewGeneration(Guid.NewGuid(), null, "h", "handed over", 3, "fast",
            GenerationPresets.Fast with { Steps = 300, ScoreEvery = 0 }), CancellationToken.None);
        await submissions.SetJobIdAsync(record.Id, queue.Enqueue(record.Id, record.Model), CancellationToken.None);
        await WaitAsync(store, record.Id, r => r.Status == GenerationStatus.Running && r.Progress is not null);

        // Stopping must not wait for the job: the slow run needs 300 × 20 ms, and a stop that let it
        // finish would leave it Succeeded, not Queued. The timeout only guards against a hang.
        await first.StopAsync().WaitAsync(HangGuard);
        first.Dispose();
        var requeued = await store.GetAsync(record.Id, CancellationToken.None);
        Assert.Equal(GenerationStatus.Queued, requeued!.Status);
        Assert.Null(requeued.Worker);
        Assert.Empty(await new GenerationProbe(connectionString).WorkerNamesAsync());

        var fast = new TestPipelineFactory { StepDelay = TimeSpan.Zero };
        using var second = Build(connectionString, blobs, "worker-b", fast);
        await second.StartAsync();
        var done = await WaitAsync(store, record.Id, r => r.Status.IsFinished());
        Assert.Equal(GenerationStatus.Succeeded, done.Status);
        Assert.Equal("worker-b", done.Worker);
        Assert.Equal(2, done.Attempts);
        Assert.Equal(Enumerable.Range(1, 300), await new GenerationProbe(connectionString).TraceStepsAsync(record.Id));
        Assert.Equal(1, slow.RunsOf("handed over"));
        Assert.Equal(1, fast.RunsOf("handed over"));
        await second.StopAsync();
    }

    [Fact]
    public async Task WorkerCount_BuildsOnePipelinePerThread_AtStart()
    {
        var connectionString = await TestDatabase.CreateFreshAsync(nameof(WorkerHostTests) + "_count");
        var pipelines = new TestPipelineFactory();
        using var host = Build(connectionString, Path.GetTempPath(), "worker-three", pipelines, "--Worker:Count=3");
        await host.StartAsync();
        Assert.Equal(3, pipelines.Created);
        Assert.Equal(3, await new GenerationProbe(connectionString).WorkerThreadsAsync("worker-three"));
        await host.StopAsync();
    }

    [Fact]
    public async Task MissingModelFile_FailsAtStart_NamingTheSettingAndTheFile()
    {
        var connectionString = await TestDatabase.CreateFreshAsync(nameof(WorkerHostTests) + "_models");
        var clip = Path.Combine(Path.GetTempPath(), "no-such-dir", "ViT-B-32.pt");
        using var host = Build(connectionString, Path.GetTempPath(), "worker-nomodels", null, $"--Models:Clip={clip}");
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => host.StartAsync());
        Assert.Contains("Models:Clip (env Models__Clip)", error.Message);
        Assert.Contains(clip, error.Message);
        Assert.Contains("Models:BigGan256", error.Message);
    }

    [Fact]
    public void ModelPaths_Validate_AcceptsExistingFiles()
    {
        var file = Path.GetTempFileName();
        try
        {
            var options = new ModelPathsOptions { Clip = file, BigGan512 = file };
            Assert.Empty(options.Validate());
            Assert.Equal([GenerationOptions.Models.BigGan512], options.ConfiguredModels);
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static async Task<GenerationRecord> WaitAsync(GenerationRepository store, Guid id, Func<GenerationRecord, bool> until)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        GenerationRecord? record;
        do
        {
            record = await store.GetAsync(id, CancellationToken.None);
            if (record is not null && until(record)) return record;
            await Task.Delay(25);
        }
        while (DateTime.UtcNow < deadline);
        Assert.Fail($"generation {id} did not reach the expected state; last: {record}");
        return record!;
    }
}
