using FuseDream.Tests.Api;
using Npgsql;

namespace FuseDream.Tests.Support;

/// <summary>The probe the integration tests assert with must itself be able to say no.</summary>
public class GenerationProbeTests(GenerationProbeTests.Factory factory) : IClassFixture<GenerationProbeTests.Factory>
{
    /// <summary>No worker: what the probe sees stays put.</summary>
    public sealed class Factory : ServiceFactory
    {
        protected override bool InProcessWorker => false;
    }

    [Fact]
    public async Task UnknownGeneration_Throws_RatherThanAnsweringADefault()
    {
        // A wrong id must not pass an assertion such as "attempts == 0" or "no trace rows".
        var unknown = Guid.NewGuid();
        await Assert.ThrowsAsync<InvalidOperationException>(() => factory.Probe.AttemptsAsync(unknown));
        await Assert.ThrowsAsync<InvalidOperationException>(() => factory.Probe.StatusAsync(unknown));
        await Assert.ThrowsAsync<InvalidOperationException>(() => factory.Probe.BackdateAsync(unknown, TimeSpan.FromMinutes(1)));
    }

    [Fact]
    public async Task Mark_CountsExactlyWhatWasAddedAfterIt()
    {
        using var client = factory.CreateClient();
        var before = await factory.Probe.MarkAsync();
        Assert.Equal((0L, 0L), await factory.Probe.AddedSinceAsync(before));
        var id = (await client.PostAsync(GenerationClient.Quick("seen by the mark"))).Id();
        Assert.Equal((1L, 1L), await factory.Probe.AddedSinceAsync(before));
        Assert.Equal(1L, await factory.Probe.RowsOfAsync(id));
        Assert.Equal(0L, await factory.Probe.RowsOfAsync(Guid.NewGuid()));
        Assert.Equal(1L, await factory.Probe.JobsOfAsync(id));
        Assert.Equal((0L, 0L), await factory.Probe.AddedSinceAsync(await factory.Probe.MarkAsync()));
    }

    [Fact]
    public async Task TerminateBackends_KillsTheServiceSessions_AndSparesOthers()
    {
        // A session that is not the service's: another role's would be out of reach, so one under another name.
        await using var bystander = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(factory.ConnectionString)
            { Pooling = false, ApplicationName = GenerationProbe.ApplicationName }.ConnectionString);
        await bystander.OpenAsync();
        await using var service = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(factory.ConnectionString) { Pooling = false }.ConnectionString);
        await service.OpenAsync();
        await using var pidOf = new NpgsqlCommand("select pg_backend_pid()", service);
        var servicePid = (int)(await pidOf.ExecuteScalarAsync())!;

        var terminated = await factory.Probe.TerminateBackendsAsync();

        Assert.Contains(servicePid, terminated);
        Assert.DoesNotContain(bystander.ProcessID, terminated);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while ((await factory.Probe.LiveBackendsAsync(terminated)).Count > 0 && DateTime.UtcNow < deadline) await Task.Delay(20);
        Assert.Empty(await factory.Probe.LiveBackendsAsync(terminated));
        await using var still = new NpgsqlCommand("select 1", bystander);
        Assert.Equal(1, await still.ExecuteScalarAsync());
        await Assert.ThrowsAnyAsync<Exception>(() => pidOf.ExecuteScalarAsync());
    }

    [Fact]
    public void BlobKeys_ListsOnlyFinishedBlobs()
    {
        var root = Directory.CreateTempSubdirectory("fusedream-probe-blobs-").FullName;
        try
        {
            var key = new string('a', 64);
            Directory.CreateDirectory(Path.Combine(root, "aa"));
            File.WriteAllText(Path.Combine(root, "aa", key), "x");
            File.WriteAllText(Path.Combine(root, "aa", key + ".0123.tmp"), "half");
            Assert.Equal([key], new GenerationProbe(factory.ConnectionString, root).BlobKeys());
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
