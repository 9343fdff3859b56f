using System.Text.Json;
using FuseDream.Tests.Api;
using FuseDream.Tests.Support;

namespace FuseDream.Tests.Operations;

/// <summary>
/// Workers as separate processes (<c>FuseDream.Worker.dll serve</c>, the real pipeline on the
/// fixture models) that die or are stopped mid-job, against the API on its own database. The
/// queue's invisibility timeout is the default five minutes, so a job handed on within these
/// tests' bounds was handed on by crash recovery, not by that timeout.
/// </summary>
public class WorkerFailureTests(WorkerFailureTests.Factory factory) : IClassFixture<WorkerFailureTests.Factory>
{
    /// <summary>The API alone; the workers are processes of the tests.</summary>
    public sealed class Factory : ServiceFactory
    {
        protected override bool InProcessWorker => false;

        protected override IEnumerable<(string Key, string Value)> ExtraSettings => [("Queue:InvisibilityTimeout", "00:05:00")];

        /// <summary>
        /// One thread each. A stopping worker waits up to a minute for its job to hand itself
        /// back (as a deployment's 30 s): a step of the real pipeline on a loaded CPU can take
        /// seconds, and the job notices the stop between steps.
        /// </summary>
        public IEnumerable<(string Key, string Value)> WorkerSettings =>
            [.. Settings(ConnectionString, BlobDirectory), .. ExtraSettings, ("Worker:Count", "1"), ("Worker:ShutdownTimeout", "00:01:00")];
    }

    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(4);

    private static int FreePort()
    {
        var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        probe.Start();
        var port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }

    /// <summary>A real generation on the fixture models: a tiny basis search, then <paramref name="steps"/> optimisation steps.</summary>
    internal static object Tiny(string prompt, int steps) => new
    {
        prompt,
        model = "biggan-256",
        seed = 9,
        preset = "fast",
        options = new { basisIterations = 1, samplesPerIteration = 2, topK = 1, steps, augmentations = 1, scoreEvery = 0, finalAugmentations = 1 },
    };

    internal static async Task WaitUntilOptimisingAsync(HttpClient client, Guid id, ServeProcess worker)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (true)
        {
            var generation = await client.GetJsonAsync($"/v1/generations/{id}");
            if (generation.Status() == "running"
                && generation.GetProperty("progress") is { ValueKind: JsonValueKind.Object } progress
                && progress.GetProperty("phase").GetString() == "optimizing"
                && progress.GetProperty("step").GetInt32() >= 1)
                return;
            if (worker.HasExited || DateTime.UtcNow > deadline)
                Assert.Fail($"worker {worker.Name} never reached a step of generation {id}; its output:\n{worker.Output}");
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task WorkerKilled_ItsGenerationRunsNext_BeforeYoungerJobs_AndSucceedsOnce()
    {
        using var client = ServiceHttp.Client(factory);
        var orphan = (await client.PostAsync(Tiny("killed while painting", steps: 3))).Id();
        using (var victim = ServeProcess.Start("victim", factory.WorkerSettings))
        {
            await WaitUntilOptimisingAsync(client, orphan, victim);
            // Younger jobs wait behind it on the same queue.
            Guid[] younger = [];
            younger = [.. await Task.WhenAll(Enumerable.Range(0, 2).Select(async i => (await client.PostAsync(Tiny($"submitted after the crash victim {i}", steps: 1))).Id()))];
            await victim.KillAsync();
            Assert.Equal(128 + 9, victim.ExitCode);
            // What a crash leaves: the row running on the dead worker, no image.
            Assert.Equal("running", await factory.Probe.StatusAsync(orphan));
            Assert.Equal("victim", await factory.Probe.WorkerAsync(orphan));
            Assert.Null(await factory.Probe.ImageKeyAsync(orphan));
            var killedAt = DateTimeOffset.UtcNow;

            // Crash recovery (here the API's) notices the silent worker after its heartbeat
            // timeout and puts the generation back, first in line.
            await client.WaitAsync(orphan, g => g.Status() == "queued", TimeSpan.FromMinutes(1));
            Assert.Equal(1, await factory.Probe.AttemptsAsync(orphan));
            Assert.Contains("stopped", (await client.GetJsonAsync($"/v1/generations/{orphan}")).GetProperty("error").GetString());

            using var finisher = ServeProcess.Start("finisher", factory.WorkerSettings);
            var done = new List<JsonElement>();
            foreach (var id in younger.Prepend(orphan))
                done.Add(await client.WaitAsync(id, timeout: Patience));
            Assert.All(done, g => Assert.True(g.Status() == "succeeded", $"{g}\nfinisher:\n{finisher.Output}"));

            // Prompt: well within the five-minute invisibility timeout.
            Assert.True(DateTimeOffset.UtcNow - killedAt < TimeSpan.FromMinutes(3));
            // Fair: one worker thread runs one job at a time, so the order in which they finished
            // is the order in which it took them; the orphan went first.
            var finished = done.Select(g => g.GetProperty("finishedAt").GetDateTimeOffset()).ToList();
            Assert.All(finished.Skip(1), f => Assert.True(finished[0] < f, $"the orphan finished at {finished[0]:O}, after a younger job ({f:O})"));

            // Once: two deliveries of one job, one success, one image, one trace.
            Assert.Equal("finisher", await factory.Probe.WorkerAsync(orphan));
            Assert.Equal(2, await factory.Probe.AttemptsAsync(orphan));
            Assert.Equal(1, await factory.Probe.JobsOfAsync(orphan));
            var history = await HangfireJobs.WaitForStateAsync(factory.Jobs, (await factory.Probe.JobIdAsync(orphan))!, TimeSpan.FromSeconds(30), "Succeeded");
            Assert.Equal(2, history.Count(s => s == "Processing"));
            Assert.Equal(1, history.Count(s => s == "Succeeded"));
            Assert.Equal([1, 2, 3], await factory.Probe.TraceStepsAsync(orphan));
            Assert.Contains((await factory.Probe.ImageKeyAsync(orphan))!, factory.Probe.BlobKeys());
            Assert.Single(await factory.Probe.TraceStepsAsync(orphan), s => s == 3);
        }
    }

    [Fact]
    public async Task WorkerStoppedWithSigterm_HandsItsJobBack_AndTheNextWorkerFinishesIt()
    {
        using var client = ServiceHttp.Client(factory);
        var id = (await client.PostAsync(Tiny("stopped politely mid-run", steps: 3))).Id();
        using (var stopping = ServeProcess.Start("stopping", factory.WorkerSettings))
        {
            await WaitUntilOptimisingAsync(client, id, stopping);
            await stopping.TerminateAsync(TimeSpan.FromSeconds(60));
            Assert.True(stopping.ExitCode == 0, $"exit {stopping.ExitCode}:\n{stopping.Output}");
        }
        // Handed back: queued, on no worker, the worker gone from the registry.
        Assert.Equal("queued", await factory.Probe.StatusAsync(id));
        Assert.Null(await factory.Probe.WorkerAsync(id));
        Assert.DoesNotContain("stopping", await factory.Probe.WorkerNamesAsync());

        var metricsPort = FreePort();
        using var next = ServeProcess.Start("next", factory.WorkerSettings, $"--Metrics:Port={metricsPort}");
        var done = await client.WaitAsync(id, timeout: Patience);
        Assert.True(done.Status() == "succeeded", $"{done}\n{next.Output}");
        Assert.Equal("next", await factory.Probe.WorkerAsync(id));
        Assert.Equal(2, await factory.Probe.AttemptsAsync(id));
        Assert.Equal([1, 2, 3], await factory.Probe.TraceStepsAsync(id));

        // The worker's own /metrics, over HTTP on its port: this process ran exactly this one generation.
        using var scraper = ServiceHttp.Client(new Uri($"http://127.0.0.1:{metricsPort}"));
        var metrics = await MetricsTests.ScrapeAsync(scraper);
        Assert.Equal(1, metrics.Value("fusedream_generations_finished_total", ("model", "biggan-256"), ("outcome", "succeeded")));
        Assert.Equal(1, metrics.Value("fusedream_generation_retries_total", ("reason", "rerun")));
        Assert.Equal(1, metrics.Value("fusedream_generation_phase_seconds_count", ("phase", "optimizing")));
        Assert.Equal(1, metrics.Value("fusedream_optimization_step_seconds_count"));
        Assert.Equal(1, metrics.Value("fusedream_generation_augclip_score_count"));
        Assert.True(metrics.Value("fusedream_worker_heartbeats_total", ("worker", "next")) >= 1);
        Assert.True(metrics.Value("process_working_set_bytes") > 0);
        using var elsewhere = await scraper.GetAsync("/other");
        Assert.Equal(System.Net.HttpStatusCode.NotFound, elsewhere.StatusCode);
    }
}
