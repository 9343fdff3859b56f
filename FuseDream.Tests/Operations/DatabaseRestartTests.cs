using System.Net;
using FuseDream.Tests.Api;
using FuseDream.Tests.Support;

namespace FuseDream.Tests.Operations;

/// <summary>
/// PostgreSQL restarted under a running service: readiness says 503 while it is down and 200
/// again after, and the generations that were running and queued at the time all complete,
/// once each. The server restarted is this class's own (<see cref="PrivatePostgres"/>), so the
/// restart cannot break any other test class running at the same time on the shared cluster.
/// </summary>
public class DatabaseRestartTests(DatabaseRestartTests.Factory factory) : IClassFixture<DatabaseRestartTests.Factory>
{
    public sealed class Factory : ServiceFactory
    {
        public PrivatePostgres Postgres { get; private set; } = null!;

        protected override async Task BeforeStartAsync() => Postgres = await PrivatePostgres.StartAsync();

        protected override Task<string> CreateDatabaseAsync() => Postgres.CreateDatabaseAsync("fusedream_restart");

        protected override async Task AfterStopAsync()
        {
            if (Postgres is not null) await Postgres.DisposeAsync();
        }
    }

    private static async Task<HttpStatusCode> ReadinessAsync(HttpClient client)
    {
        using var response = await client.GetAsync("/health/ready");
        return response.StatusCode;
    }

    private static async Task WaitForReadinessAsync(HttpClient client, HttpStatusCode expected, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        HttpStatusCode last;
        while ((last = await ReadinessAsync(client)) != expected)
        {
            Assert.True(DateTime.UtcNow < deadline, $"/health/ready stayed {(int)last}, expected {(int)expected}");
            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task PostgresRestart_ReadinessFailsThenRecovers_AndRunningAndQueuedGenerationsComplete()
    {
        factory.Pipelines.StepDelay = TimeSpan.FromMilliseconds(20);
        using var client = ServiceHttp.Client(factory);
        await WaitForReadinessAsync(client, HttpStatusCode.OK, TimeSpan.FromSeconds(30));

        // One running (the worker has one thread), two queued behind it.
        var ids = new List<Guid>();
        for (var i = 0; i < 3; i++)
            ids.Add((await client.PostAsync(GenerationClient.Quick($"through a database restart {i}", steps: 150))).Id());
        await client.WaitAsync(ids[0], g => g.Status() == "running", TimeSpan.FromSeconds(30));
        Assert.Equal("queued", await factory.Probe.StatusAsync(ids[2]));

        await factory.Postgres.StopServerAsync();
        Assert.False(factory.Postgres.IsAcceptingConnections());
        await WaitForReadinessAsync(client, HttpStatusCode.ServiceUnavailable, TimeSpan.FromSeconds(30));
        await Task.Delay(TimeSpan.FromSeconds(2)); // down for a while, as a restart is
        await factory.Postgres.StartServerAsync();
        Assert.True(factory.Postgres.IsAcceptingConnections());
        await WaitForReadinessAsync(client, HttpStatusCode.OK, TimeSpan.FromSeconds(60));

        foreach (var id in ids)
        {
            var done = await client.WaitAsync(id, timeout: TimeSpan.FromMinutes(2));
            Assert.True(done.Status() == "succeeded", done.ToString());
            Assert.Equal(Enumerable.Range(1, 150), await factory.Probe.TraceStepsAsync(id));
            Assert.Equal(1, await factory.Probe.JobsOfAsync(id));
        }
    }
}
