using FuseDream.Tests.Api;
using FuseDream.Tests.Support;

namespace FuseDream.Tests.Operations;

/// <summary>
/// The S3 blob store stops (its server process killed) while the service runs: a generation
/// that cannot store its image is not marked succeeded, its image is never served, and the
/// run is not repeated for it (the write itself is retried within the run).
/// </summary>
public class BlobStoreOutageTests(BlobStoreOutageTests.Factory factory) : IClassFixture<BlobStoreOutageTests.Factory>
{
    public sealed class Factory : S3ServiceFactory;

    [Fact]
    public async Task StoppedS3Server_TheGenerationFails_IsNotRunAgain_AndNoImageIsServed()
    {
        using var client = ServiceHttp.Client(factory);
        // The store works while its server runs.
        var before = (await client.PostAsync(GenerationClient.Quick("stored before the outage"))).Id();
        Assert.Equal("succeeded", (await client.WaitAsync(before)).Status());

        await factory.S3.StopAsync();
        Assert.False(factory.S3.IsRunning);

        const string prompt = "painted during the outage";
        var id = (await client.PostAsync(GenerationClient.Quick(prompt))).Id();
        var done = await client.WaitAsync(id, timeout: TimeSpan.FromSeconds(90));
        Assert.Equal("failed", done.Status());
        Assert.StartsWith("The worker could not store the image.", done.GetProperty("error").GetString());
        Assert.Null(await factory.Probe.ImageKeyAsync(id));
        Assert.Equal(1, factory.Pipelines.RunsOf(prompt));

        using var image = await client.GetAsync($"/v1/generations/{id}/image");
        Assert.Equal(System.Net.HttpStatusCode.NotFound, image.StatusCode);
        Assert.Equal("application/problem+json", image.Content.Headers.ContentType?.MediaType);
        // Ended in Hangfire's terms: no later run can make it succeed with a half-stored image.
        var history = await HangfireJobs.WaitForStateAsync(factory.Jobs, (await factory.Probe.JobIdAsync(id))!, TimeSpan.FromSeconds(20), "Succeeded");
        Assert.Equal(1, history.Count(s => s == "Processing"));
    }
}
