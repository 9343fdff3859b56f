using FuseDream.Generation;
using FuseDream.Generations;
using FuseDream.Persistence;
using FuseDream.Queue;
using FuseDream.Tests.Api;
using FuseDream.Tests.Foundation;
using FuseDream.Tests.Support;
using FuseDream.Worker;
using FuseDream.Worker.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace FuseDream.Tests.Worker;

/// <summary>
/// Jobs are routed by model: a worker takes only the jobs of the models its pipelines loaded,
/// so a generation waits in the queue for a worker that can run it instead of failing on one
/// that cannot.
/// </summary>
public class ModelRoutingTests
{
    private static IHost Build(string connectionString, string blobs, string name, params string[] models) =>
        WorkerHost.Build(
            [
                .. ServiceFactory.Settings(connectionString, blobs).Select(s => $"--{s.Key}={s.Value}"),
                $"--Worker:Name={name}",
                // One-machine mode: submits are queued whether or not a worker serves the model yet.
                "--Health:RequireWorker=false",
            ],
            services => services.AddSingleton<IGenerationPipelineFactory>(new TestPipelineFactory { Models = models, StepDelay = TimeSpan.Zero }));

    private static GenerationSubmission Submission(string prompt, string model) =>
        new(prompt, 5, "fast", GenerationPresets.Fast with { Model = model, Steps = 3, ScoreEvery = 0 }, $"hash-{prompt}", null);

    [Fact]
    public async Task A256OnlyWorker_NeverTakesA512Job_WhichWaitsForA512Worker()
    {
        var connectionString = await TestDatabase.CreateFreshAsync(nameof(ModelRoutingTests));
        var blobs = Directory.CreateTempSubdirectory("fusedream-routing-").FullName;
        var probe = new GenerationProbe(connectionString, blobs);

        using var worker256 = Build(connectionString, blobs, "worker-256", GenerationOptions.Models.BigGan256);
        await worker256.StartAsync();
        var service = worker256.Services.GetRequiredService<GenerationService>();
        var jobs = worker256.Services.GetRequiredService<GenerationQueue>().Storage;

        // The 512 generation is queued first: a worker that listened on its queue would take it
        // before the 256 one, so the 256 one finishing shows the worker has passed it by.
        var big = Assert.IsType<SubmitOutcome.Accepted>(await service.SubmitAsync(Submission("a big red bus", GenerationOptions.Models.BigGan512), CancellationToken.None));
        var small = Assert.IsType<SubmitOutcome.Accepted>(await service.SubmitAsync(Submission("a small red bus", GenerationOptions.Models.BigGan256), CancellationToken.None));
        var bigJob = big.Generation.Record.JobId ?? await probe.JobIdAsync(big.Generation.Record.Id);
        var smallJob = small.Generation.Record.JobId ?? await probe.JobIdAsync(small.Generation.Record.Id);
        Assert.NotNull(bigJob);
        Assert.NotNull(smallJob);

        await HangfireJobs.WaitForStateAsync(jobs, smallJob, TimeSpan.FromSeconds(20), "Succeeded");
        Assert.Equal("worker-256", await probe.WorkerAsync(small.Generation.Record.Id));
        Assert.Equal("queued", await probe.StatusAsync(big.Generation.Record.Id));
        Assert.Equal(0, await probe.AttemptsAsync(big.Generation.Record.Id));
        Assert.Equal(["Enqueued"], HangfireJobs.HistoryOf(jobs, bigJob));

        using var worker512 = Build(connectionString, blobs, "worker-512", GenerationOptions.Models.BigGan512);
        await worker512.StartAsync();
        var history = await HangfireJobs.WaitForStateAsync(jobs, bigJob, TimeSpan.FromSeconds(20), "Succeeded");
        Assert.Equal(["Enqueued", "Processing", "Succeeded"], history);
        Assert.Equal("succeeded", await probe.StatusAsync(big.Generation.Record.Id));
        Assert.Equal("worker-512", await probe.WorkerAsync(big.Generation.Record.Id));
        Assert.Equal(1, await probe.AttemptsAsync(big.Generation.Record.Id));

        await worker512.StopAsync();
        await worker256.StopAsync();
    }

    [Fact]
    public async Task AJobOnTheSharedGpuQueue_FromBeforeRouting_IsStillServed()
    {
        var connectionString = await TestDatabase.CreateFreshAsync(nameof(ModelRoutingTests) + "_legacy");
        var blobs = Directory.CreateTempSubdirectory("fusedream-routing-").FullName;
        var probe = new GenerationProbe(connectionString, blobs);
        using var worker = Build(connectionString, blobs, "worker-256", GenerationOptions.Models.BigGan256);
        await worker.StartAsync();
        var jobs = worker.Services.GetRequiredService<GenerationQueue>().Storage;

        // What an API from before routing left behind: the row, and its job on the one "gpu" queue.
        await using var dataSource = Npgsql.NpgsqlDataSource.Create(connectionString);
        var submissions = new GenerationSubmissions(dataSource);
        var (_, record) = await submissions.CreateAsync(new NewGeneration(Guid.CreateVersion7(), null, "h-legacy", "an old bus", 5, "fast",
            GenerationPresets.Fast with { Steps = 3, ScoreEvery = 0 }), CancellationToken.None);
        var jobId = new Hangfire.BackgroundJobClient(jobs).Create(
            Hangfire.Common.Job.FromExpression<GenerationJob>(job => job.RunAsync(record.Id, null, CancellationToken.None)),
            new Hangfire.States.EnqueuedState(QueueOptions.GpuQueue));
        await submissions.SetJobIdAsync(record.Id, jobId, CancellationToken.None);

        await HangfireJobs.WaitForStateAsync(jobs, jobId, TimeSpan.FromSeconds(20), "Succeeded");
        Assert.Equal("succeeded", await probe.StatusAsync(record.Id));
        Assert.Equal("worker-256", await probe.WorkerAsync(record.Id));
        await worker.StopAsync();
    }

    [Theory]
    [InlineData("biggan-256", "gpu_biggan_256")]
    [InlineData("biggan-512", "gpu_biggan_512")]
    public void EachModel_HasAQueueOfItsOwn_NamedAsHangfireAllows(string model, string queue)
    {
        Assert.Equal(queue, QueueOptions.QueueOf(model));
        Assert.Equal([queue, QueueOptions.GpuQueue], GenerationServer.QueuesOf([model]));
    }
}
