using System.Diagnostics;
using FuseDream.Tests.Api;
using FuseDream.Tests.Support;
using FuseDream.Worker;
using FuseDream.Worker.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace FuseDream.Tests.Worker;

/// <summary>
/// A worker process that dies mid-job: <c>FuseDream.Worker.dll serve</c> (the real pipeline on
/// the fixture models) is killed with SIGKILL while it optimises, so nothing in it gets to
/// hand the generation back. Hangfire must give the job to the next worker once the dead one
/// stops renewing it, and the generation must end with exactly one result.
/// </summary>
public class WorkerCrashTests(WorkerCrashTests.Factory factory) : IClassFixture<WorkerCrashTests.Factory>
{
    /// <summary>The API alone: the workers in these tests are the killed process and a host of the test's own.</summary>
    public sealed class Factory : ServiceFactory
    {
        protected override bool InProcessWorker => false;
    }

    /// <summary>How long a fetched job stays invisible once its worker stops renewing it (the minimum is one second).</summary>
    private const string InvisibilityTimeout = "00:00:03";

    // The most the API accepts: however fast a step on this machine, the kill lands mid-run.
    private const int Steps = 10000;

    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _output = new();

    [Fact]
    public async Task WorkerKilledMidJob_ItsJobIsFinishedByTheNextWorker_WithOneResult()
    {
        using var client = factory.CreateClient();
        const string prompt = "a worker dies while painting this";
        var id = (await client.PostAsync(new
        {
            prompt,
            model = "biggan-256",
            seed = 3,
            preset = "fast",
            options = new { basisIterations = 1, samplesPerIteration = 2, topK = 1, steps = Steps, augmentations = 1, scoreEvery = 0, finalAugmentations = 1 },
            previewEvery = 0,
        })).Id();

        using (var victim = StartServeProcess("crash-victim"))
        {
            // Wait until it optimises (models loaded, basis found, an Adam step reported), or fail at once if it dies on its own.
            var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(3);
            while (!await IsOptimisingAsync(client, id))
            {
                if (victim.HasExited || DateTime.UtcNow > deadline)
                {
                    if (!victim.HasExited) victim.Kill();
                    Assert.Fail($"the worker process never reached a step of generation {id}; its output:\n{string.Join('\n', _output)}");
                }
                await Task.Delay(25);
            }
            victim.Kill(); // SIGKILL on Unix: no shutdown hook, no requeue, no heartbeat removal
            using var exited = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await victim.WaitForExitAsync(exited.Token);
            Assert.Equal(128 + 9, victim.ExitCode);
        }

        // The crash left what a crash leaves: the row still running on the dead worker, mid-run.
        Assert.Equal("running", await factory.Probe.StatusAsync(id));
        Assert.Equal("crash-victim", await factory.Probe.WorkerAsync(id));
        Assert.Equal(1, await factory.Probe.AttemptsAsync(id));
        Assert.InRange(await factory.Probe.StepAsync(id) ?? 0, 1, Steps - 1);
        Assert.Empty(factory.Probe.BlobKeys());

        // The next worker has two threads, so a job handed out twice could run twice at once.
        var pipelines = new TestPipelineFactory { StepDelay = TimeSpan.Zero };
        using var finisher = WorkerHost.Build(
            [.. WorkerArgs("finisher"), "--Worker:Count=2"],
            services => services.AddSingleton<IGenerationPipelineFactory>(pipelines));
        await finisher.StartAsync();
        try
        {
            var done = await client.WaitAsync(id, timeout: TimeSpan.FromSeconds(60));
            Assert.Equal("succeeded", done.Status());
            var jobId = (await factory.Probe.JobIdAsync(id))!;
            var history = await HangfireJobs.WaitForStateAsync(factory.Jobs, jobId, TimeSpan.FromSeconds(20), "Succeeded");

            // One commit: delivered twice (the dead worker's and the finisher's run), succeeded once.
            Assert.Equal(2, history.Count(s => s == "Processing"));
            Assert.Equal(1, history.Count(s => s == "Succeeded"));
            Assert.Equal(1, pipelines.RunsOf(prompt));
            Assert.Equal("finisher", await factory.Probe.WorkerAsync(id));
            Assert.Equal(2, await factory.Probe.AttemptsAsync(id));
            // One blob (the image the row names) and one trace, step by step, once.
            Assert.Equal([(await factory.Probe.ImageKeyAsync(id))!], factory.Probe.BlobKeys());
            Assert.Equal(Enumerable.Range(1, Steps), await factory.Probe.TraceStepsAsync(id));
            Assert.Empty(await factory.Probe.PreviewStepsAsync(id));
        }
        finally
        {
            await finisher.StopAsync();
        }
    }

    private static async Task<bool> IsOptimisingAsync(HttpClient client, Guid id)
    {
        var generation = await client.GetJsonAsync($"/v1/generations/{id}");
        return generation.Status() == "running"
               && generation.GetProperty("progress") is { ValueKind: System.Text.Json.JsonValueKind.Object } progress
               && progress.GetProperty("phase").GetString() == "optimizing"
               && progress.GetProperty("step").GetInt32() >= 1;
    }

    private string[] WorkerArgs(string name) =>
    [
        .. ServiceFactory.Settings(factory.ConnectionString, factory.BlobDirectory).Select(s => $"--{s.Key}={s.Value}"),
        $"--Worker:Name={name}",
        $"--Queue:InvisibilityTimeout={InvisibilityTimeout}",
    ];

    /// <summary><c>FuseDream.Worker.dll serve</c> on the fixture models, with its output drained so it never blocks on a full pipe.</summary>
    private Process StartServeProcess(string name)
    {
        var start = WorkerProcess.Start(["serve", .. WorkerArgs(name)]);
        // An empty model store: the process serves exactly the fixture models named below.
        start.Environment["FUSEDREAM_MODELS"] = Directory.CreateTempSubdirectory("fusedream-no-models-").FullName;
        start.ArgumentList.Add($"--Models:Clip={Path.Combine(FixtureSets.Root, "clip", "clip_tiny_jit.pt")}");
        start.ArgumentList.Add($"--Models:BigGan256={Path.Combine(FixtureSets.Root, "biggan", "G256_tiny.pth")}");
        start.ArgumentList.Add("--Models:Device=cpu");
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start the worker process");
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) _output.Enqueue(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) _output.Enqueue(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }
}
