using System.Net;
using FuseDream.Tests.Api;
using FuseDream.Tests.Support;

namespace FuseDream.Tests.Operations;

/// <summary>
/// 200 submissions from 20 concurrent clients over real HTTP: every one accepted, one row and
/// one job each, and every generation run once to success by the worker (the service under
/// test; <see cref="TestPipeline"/> stands in for the models).
/// </summary>
public class SubmissionBurstTests(SubmissionBurstTests.Factory factory) : IClassFixture<SubmissionBurstTests.Factory>
{
    public sealed class Factory : ServiceFactory
    {
        protected override IEnumerable<(string Key, string Value)> ExtraSettings => [("Worker:Count", "4")];
    }

    private const int Clients = 20;
    private const int PerClient = 10;

    [Fact]
    public async Task Burst_Of200From20Clients_IsAccepted_StoredOnce_QueuedOnce_AndRunOnceEach()
    {
        var mark = await factory.Probe.MarkAsync();
        var ids = await Task.WhenAll(Enumerable.Range(0, Clients).Select(c => Task.Run(async () =>
        {
            using var client = ServiceHttp.Client(factory);
            var mine = new List<Guid>();
            for (var i = 0; i < PerClient; i++)
                mine.Add((await client.PostAsync(GenerationClient.Quick($"burst {c}-{i}", steps: 2), expected: HttpStatusCode.Accepted)).Id());
            return mine;
        })));
        var all = ids.SelectMany(x => x).ToList();
        Assert.Equal(Clients * PerClient, all.Distinct().Count());

        // One row and one Hangfire job per submission, nothing more.
        Assert.Equal((Clients * PerClient, Clients * PerClient), await factory.Probe.AddedSinceAsync(mark));

        using var reader = ServiceHttp.Client(factory);
        foreach (var id in all)
            Assert.Equal("succeeded", (await reader.WaitAsync(id, timeout: TimeSpan.FromMinutes(3))).Status());
        for (var c = 0; c < Clients; c++)
            for (var i = 0; i < PerClient; i++)
                Assert.Equal(1, factory.Pipelines.RunsOf($"burst {c}-{i}"));
        // Still one job each once they all ran (no retry or re-delivery enqueued another).
        Assert.Equal((Clients * PerClient, Clients * PerClient), await factory.Probe.AddedSinceAsync(mark));
    }
}
