using FuseDream.Tests.Support;

namespace FuseDream.Tests.Api;

/// <summary>A blob store that refuses every write: the run is not repeated for it.</summary>
public class BlobStoreFailureTests(BlobStoreFailureTests.Factory factory) : IClassFixture<BlobStoreFailureTests.Factory>
{
    public sealed class Factory : ServiceFactory;

    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task ImageThatCannotBeStored_FailsTheGeneration_AfterOneRun_WithoutAHangfireRetry()
    {
        // The fault: a file in the way of every blob's directory ({root}/{key[0..2]}/).
        Directory.CreateDirectory(factory.BlobDirectory);
        for (var i = 0; i < 256; i++)
        {
            var prefix = Path.Combine(factory.BlobDirectory, i.ToString("x2"));
            if (!Directory.Exists(prefix)) File.WriteAllBytes(prefix, []);
        }
        Assert.ThrowsAny<IOException>(() => Directory.CreateDirectory(Path.Combine(factory.BlobDirectory, "ab")));

        using var client = factory.CreateClient();
        const string prompt = "an image with nowhere to go";
        var id = (await client.PostAsync(GenerationClient.Quick(prompt))).Id();
        var done = await client.WaitAsync(id);
        Assert.Equal("failed", done.Status());
        Assert.StartsWith("The worker could not store the image.", done.GetProperty("error").GetString());
        Assert.Contains(id.ToString(), done.GetProperty("error").GetString());

        // Ended Succeeded in Hangfire's terms (the job recorded the failure): no further run can follow.
        var history = await HangfireJobs.WaitForStateAsync(factory.Jobs, (await factory.Probe.JobIdAsync(id))!, Patience, "Succeeded");
        Assert.Equal(1, history.Count(s => s == "Processing"));
        Assert.DoesNotContain("Scheduled", history);
        Assert.Equal(1, factory.Pipelines.RunsOf(prompt));
        Assert.Equal(1, await factory.Probe.AttemptsAsync(id));
    }
}
