using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using FuseDream.Worker;

namespace FuseDream.Tests.Api;

public class NotifiedCancellationTests(NotifiedCancellationTests.Factory factory) : IClassFixture<NotifiedCancellationTests.Factory>
{
    /// <summary>Progress (and so the cancel-flag poll) only every 30 s: a prompt stop can only come from LISTEN/NOTIFY.</summary>
    public sealed class Factory : ServiceFactory
    {
        public Factory() => Pipelines.StepDelay = TimeSpan.FromMilliseconds(20);

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.UseSetting("Worker:ProgressInterval", "00:00:30");
        }
    }

    [Fact]
    public async Task CancelRunning_ArrivesByNotification_AlsoAfterTheListenerConnectionWasKilled()
    {
        using var client = factory.CreateClient();
        var signals = factory.Services.GetRequiredService<CancellationSignals>();
        await signals.Listening;
        await CancelPromptlyAsync(client, "notified once");

        var connections = signals.Connections;
        var terminated = await factory.Probe.TerminateBackendsAsync(queryLike: "listen%");
        Assert.NotEmpty(terminated);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while ((await factory.Probe.LiveBackendsAsync(terminated)).Count > 0 && DateTime.UtcNow < deadline) await Task.Delay(20);
        Assert.Empty(await factory.Probe.LiveBackendsAsync(terminated));
        while (signals.Connections == connections && DateTime.UtcNow < deadline) await Task.Delay(20);
        Assert.True(signals.Connections > connections, "the cancellation listener did not reconnect");

        await CancelPromptlyAsync(client, "notified after reconnect");
    }

    private async Task CancelPromptlyAsync(HttpClient client, string prompt)
    {
        var id = (await client.PostAsync(GenerationClient.Quick(prompt, steps: 1000))).Id();
        await client.WaitAsync(id, g => g.Status() == "running");
        await Task.Delay(100);
        var asked = DateTime.UtcNow;
        using (var cancel = await client.PostAsync($"/v1/generations/{id}/cancel", null))
            Assert.Equal(HttpStatusCode.Accepted, cancel.StatusCode);
        var stepWhenAnswered = factory.Pipelines.StepOf(prompt);
        Assert.Equal("canceled", (await client.WaitAsync(id, timeout: TimeSpan.FromSeconds(5))).Status());
        Assert.True(DateTime.UtcNow - asked < TimeSpan.FromSeconds(3), "cancellation was not prompt");
        // Steps are 20 ms: the run stops at its next step boundary once notified. The bound
        // leaves room for a loaded test machine; without the notification it would run 30 s.
        var extraSteps = factory.Pipelines.StepOf(prompt) - stepWhenAnswered;
        Assert.InRange(extraSteps, 0, 10);
    }
}
