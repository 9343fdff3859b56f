using System.Net;
using System.Text.Json;
using FuseDream.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace FuseDream.Tests.Api;

public class CancellationTests(CancellationTests.Factory factory) : IClassFixture<CancellationTests.Factory>
{
    /// <summary>One worker thread and 20 ms steps: a 1000-step run takes 20 s unless canceled.</summary>
    public sealed class Factory : ServiceFactory
    {
        public Factory() => Pipelines.StepDelay = TimeSpan.FromMilliseconds(20);
    }

    [Fact]
    public async Task CancelQueued_IsImmediate_AndCancelRunning_StopsWithinAStep()
    {
        using var client = factory.CreateClient();
        var running = (await client.PostAsync(GenerationClient.Quick("long runner", steps: 1000))).Id();
        await client.WaitAsync(running, g => g.Status() == "running" && g.TryGetProperty("progress", out var p) && p.ValueKind != System.Text.Json.JsonValueKind.Null);

        // The only worker thread is busy: this one waits in the queue.
        var queued = await client.PostAsync(GenerationClient.Quick("waiting in line", steps: 3));
        var waiting = await client.GetJsonAsync($"/v1/generations/{queued.Id()}");
        Assert.Equal("queued", waiting.Status());
        Assert.Equal(1, waiting.GetProperty("queuePosition").GetInt64());

        using (var cancelQueued = await client.PostAsync($"/v1/generations/{queued.Id()}/cancel", null))
        {
            Assert.Equal(HttpStatusCode.OK, cancelQueued.StatusCode);
            Assert.Contains("\"canceled\"", await cancelQueued.Content.ReadAsStringAsync());
        }
        Assert.Equal("canceled", (await client.GetJsonAsync($"/v1/generations/{queued.Id()}")).Status());

        var progress = (await client.WaitAsync(running, g => g.GetProperty("progress").GetProperty("step").GetInt32() >= 4)).GetProperty("progress");
        Assert.Equal("optimizing", progress.GetProperty("phase").GetString());
        Assert.Equal(1000, progress.GetProperty("total").GetInt32());
        var step = progress.GetProperty("step").GetInt32();
        Assert.Equal(Math.Round(100.0 * step / 1000, 1), progress.GetProperty("percent").GetDouble());
        Assert.True(progress.GetProperty("percent").GetDouble() is > 0 and < 100);
        // The test pipeline measures AugCLIP every 2 steps (0.2 + 0.001 × step) and reports an ETA.
        Assert.InRange(progress.GetProperty("augClip").GetDouble(), 0.2, 0.3);
        Assert.True(progress.GetProperty("etaSeconds").GetDouble() > 0, progress.ToString());
        Assert.Equal(JsonValueKind.Null, (await client.GetJsonAsync($"/v1/generations/{running}")).GetProperty("queuePosition").ValueKind);

        var asked = DateTime.UtcNow;
        using (var cancelRunning = await client.PostAsync($"/v1/generations/{running}/cancel", null))
            Assert.Equal(HttpStatusCode.Accepted, cancelRunning.StatusCode);
        var stopped = await client.WaitAsync(running, timeout: TimeSpan.FromSeconds(5));
        Assert.Equal("canceled", stopped.Status());
        Assert.True(DateTime.UtcNow - asked < TimeSpan.FromSeconds(3), "the running generation did not stop promptly");
        var stepAtCancel = await factory.Probe.StepAsync(running);
        Assert.InRange(stepAtCancel ?? 0, 1, 999);

        // Both jobs are over in Hangfire's eyes (the queued one deleted, the running one ended),
        // so nothing can still run either generation: the counts below are final.
        var queuedJob = (await factory.Probe.JobIdAsync(queued.Id()))!;
        await HangfireJobs.WaitForStateAsync(factory.Jobs, queuedJob, Patience, "Deleted", "Succeeded");
        Assert.DoesNotContain("Processing", HangfireJobs.HistoryOf(factory.Jobs, queuedJob));
        await HangfireJobs.WaitForStateAsync(factory.Jobs, (await factory.Probe.JobIdAsync(running))!, Patience, "Succeeded");
        Assert.Equal(0, factory.Pipelines.RunsOf("waiting in line"));
        Assert.Equal(1, factory.Pipelines.RunsOf("long runner"));
        Assert.Empty(await factory.Probe.TraceStepsAsync(running));
        Assert.Empty(await factory.Probe.TraceStepsAsync(queued.Id()));
    }

    [Fact]
    public async Task Generation_Succeeds_WhenItsDatabaseConnectionsAreTerminatedMidRun()
    {
        using var client = factory.CreateClient();
        const string prompt = "survives a database blip";
        var id = (await client.PostAsync(GenerationClient.Quick(prompt, steps: 60, previewEvery: 20))).Id();
        await client.WaitAsync(id, g => g.Status() == "running" && g.GetProperty("progress").ValueKind != JsonValueKind.Null);

        // Kill every session of the service on this database: the worker's pooled connections,
        // the cancellation listener's LISTEN connection and Hangfire's connections.
        var terminated = await factory.Probe.TerminateBackendsAsync();
        Assert.NotEmpty(terminated);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while ((await factory.Probe.LiveBackendsAsync(terminated)).Count > 0 && DateTime.UtcNow < deadline) await Task.Delay(20);
        Assert.Empty(await factory.Probe.LiveBackendsAsync(terminated));
        Assert.True(factory.Pipelines.StepOf(prompt) < 60, "the run finished before its connections were killed; the fault proved nothing");

        var done = await client.WaitAsync(id, timeout: TimeSpan.FromSeconds(30));
        Assert.Equal("succeeded", done.Status());
        // It ran once, and left one result: one attempt, one image and its previews, one trace.
        await HangfireJobs.WaitForStateAsync(factory.Jobs, (await factory.Probe.JobIdAsync(id))!, Patience, "Succeeded");
        Assert.Equal(1, factory.Pipelines.RunsOf(prompt));
        Assert.Equal(1, await factory.Probe.AttemptsAsync(id));
        Assert.Equal(Enumerable.Range(1, 60), await factory.Probe.TraceStepsAsync(id));
        Assert.Equal([20, 40, 60], await factory.Probe.PreviewStepsAsync(id));
        var blobs = factory.Probe.BlobKeys();
        Assert.Contains((await factory.Probe.ImageKeyAsync(id))!, blobs);
        Assert.All(await factory.Probe.PreviewKeysAsync(id), key => Assert.Contains(key, blobs));

        // The listener reconnected: cancelling a fresh running generation is still prompt.
        var signals = factory.Services.GetRequiredService<FuseDream.Worker.CancellationSignals>();
        await signals.Listening;
        var next = (await client.PostAsync(GenerationClient.Quick("cancel after the blip", steps: 1000))).Id();
        await client.WaitAsync(next, g => g.Status() == "running");
        using (var cancel = await client.PostAsync($"/v1/generations/{next}/cancel", null))
            Assert.Equal(HttpStatusCode.Accepted, cancel.StatusCode);
        Assert.Equal("canceled", (await client.WaitAsync(next, timeout: TimeSpan.FromSeconds(5))).Status());
    }

    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);
}
