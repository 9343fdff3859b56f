using FuseDream.Tests.Api;
using FuseDream.Tests.Support;
using FuseDream.Worker;
using FuseDream.Worker.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace FuseDream.Tests.Operations;

/// <summary>
/// The job's side of the loss limit: a generation whose runs have already killed more workers
/// than <c>Queue:MaxRetries</c> allows is failed by the next worker's claim with a clear error,
/// without running it again.
/// </summary>
public class WorkerLossLimitTests(WorkerLossLimitTests.Factory factory) : IClassFixture<WorkerLossLimitTests.Factory>
{
    /// <summary>The API alone (submits are accepted without a worker); the worker is a host of the test's own.</summary>
    public sealed class Factory : ServiceFactory
    {
        protected override bool InProcessWorker => false;
    }

    [Fact]
    public async Task GenerationThatKilledTooManyWorkers_IsFailedByTheNextClaim_WithoutRunning()
    {
        using var client = ServiceHttp.Client(factory);
        const string prompt = "it ran three workers out of memory";
        var id = (await client.PostAsync(GenerationClient.Quick(prompt))).Id();
        // Queue:MaxRetries is 2 in the tests: three losses are one too many.
        await factory.Probe.SetWorkerLossesAsync(id, 3);

        var pipelines = new TestPipelineFactory();
        using var worker = WorkerHost.Build(
            [.. ServiceFactory.Settings(factory.ConnectionString, factory.BlobDirectory).Select(s => $"--{s.Key}={s.Value}"), "--Worker:Name=next-victim"],
            services => services.AddSingleton<IGenerationPipelineFactory>(pipelines));
        await worker.StartAsync();
        try
        {
            var done = await client.WaitAsync(id, timeout: TimeSpan.FromSeconds(60));
            Assert.Equal("failed", done.Status());
            var error = done.GetProperty("error").GetString()!;
            Assert.StartsWith("The workers running this generation died 3 times", error);
            Assert.Contains(id.ToString(), error);
            Assert.Equal(0, pipelines.RunsOf(prompt));
            // Over for the queue as well: the job ended, and is not delivered again.
            var history = await HangfireJobs.WaitForStateAsync(factory.Jobs, (await factory.Probe.JobIdAsync(id))!, TimeSpan.FromSeconds(20), "Succeeded");
            Assert.Equal(1, history.Count(s => s == "Processing"));
        }
        finally
        {
            await worker.StopAsync();
        }
    }
}
