using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace FuseDream.Tests.Api;

/// <summary>
/// With <c>Health:RequireWorker</c> (the default outside Development) a generation is accepted
/// only for a model some live worker serves; otherwise nothing is stored and the answer says
/// how to start such a worker.
/// </summary>
public class ModelAvailabilityTests(ModelAvailabilityTests.Factory factory) : IClassFixture<ModelAvailabilityTests.Factory>
{
    /// <summary>One in-process worker, serving biggan-256 only.</summary>
    public sealed class Factory : ServiceFactory;

    [Fact]
    public async Task Submit_ForAModelNoLiveWorkerServes_Is503_AndStoresNothing()
    {
        using var client = factory.CreateClient();
        var mark = await factory.Probe.MarkAsync();
        using var response = await client.PostAsync("/v1/generations",
            JsonContent.Create(GenerationClient.Quick("a bus no worker can paint", model: "biggan-512")));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.ServiceUnavailable, $"{(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(text).RootElement;
        Assert.Equal(503, problem.GetProperty("status").GetInt32());
        var detail = problem.GetProperty("detail").GetString()!;
        Assert.Contains("no worker serving biggan-512 is running", detail);
        Assert.Contains("Models__BigGan512", detail);
        Assert.Equal((0L, 0L), await factory.Probe.AddedSinceAsync(mark));

        // The model the worker serves is accepted and runs.
        var created = await client.PostAsync(GenerationClient.Quick("a bus the worker paints"));
        Assert.Equal("succeeded", (await client.WaitAsync(created.Id())).Status());
    }
}
