using System.Net;
using System.Text.Json;

namespace FuseDream.Tests.Api;

public class ServiceInfoTests(ServiceInfoTests.Factory factory) : IClassFixture<ServiceInfoTests.Factory>
{
    public sealed class Factory : ServiceFactory;

    [Fact]
    public async Task Models_ListWhatTheConnectedWorkerRuns()
    {
        using var client = factory.CreateClient();
        var models = await client.GetJsonAsync("/v1/models");
        var model = Assert.Single(models.GetProperty("models").EnumerateArray());
        Assert.Equal("biggan-256", model.GetProperty("id").GetString());
        Assert.Equal(1, model.GetProperty("workerThreads").GetInt32());
        var worker = Assert.Single(models.GetProperty("workers").EnumerateArray());
        Assert.Equal(1, worker.GetProperty("threads").GetInt32());
        // The worker's name (host:pid by default) is for logs and the heartbeat table, not clients.
        Assert.False(worker.TryGetProperty("name", out _));
        Assert.DoesNotContain("test-ServiceInfoTests", models.GetRawText());
    }

    [Fact]
    public async Task Ready_WithDatabaseAndWorker()
    {
        using var client = factory.CreateClient();
        using var response = await client.GetAsync("/health/ready");
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        Assert.Contains("workers", body);
        Assert.Contains("database", body);
        Assert.Contains("1 worker(s) with 1 thread(s).", body);
        Assert.DoesNotContain("test-ServiceInfoTests", body);
    }

    [Fact]
    public async Task Swagger_DescribesRangesAndExamples()
    {
        using var client = factory.CreateClient();
        var doc = await client.GetJsonAsync("/swagger/v1/swagger.json");
        var schemas = doc.GetProperty("components").GetProperty("schemas");
        var steps = schemas.GetProperty("GenerationOptionsRequest").GetProperty("properties").GetProperty("steps");
        Assert.Equal(0, steps.GetProperty("minimum").GetInt32());
        Assert.Equal(10000, steps.GetProperty("maximum").GetInt32());
        var request = schemas.GetProperty("CreateGenerationRequest");
        Assert.Equal("biggan-256", request.GetProperty("example").GetProperty("model").GetString());
        Assert.Contains("biggan-512", request.GetProperty("properties").GetProperty("model").GetProperty("enum").EnumerateArray().Select(e => e.GetString()));
        Assert.True(doc.GetProperty("paths").TryGetProperty("/v1/generations/{id}/cancel", out _));
        var create = doc.GetProperty("paths").GetProperty("/v1/generations").GetProperty("post");
        Assert.Contains(create.GetProperty("parameters").EnumerateArray(),
            p => p.GetProperty("name").GetString() == "Idempotency-Key" && p.GetProperty("in").GetString() == "header");
        var limit = doc.GetProperty("paths").GetProperty("/v1/generations").GetProperty("get").GetProperty("parameters").EnumerateArray()
            .Single(p => p.GetProperty("name").GetString() == "limit").GetProperty("schema");
        Assert.Equal(1, limit.GetProperty("minimum").GetInt32());
        Assert.Equal(100, limit.GetProperty("maximum").GetInt32());
    }

    [Fact]
    public async Task Swagger_ShowsAComposedRequest_ThatTheApiAccepts()
    {
        using var client = factory.CreateClient();
        var doc = await client.GetJsonAsync("/swagger/v1/swagger.json");
        var schemas = doc.GetProperty("components").GetProperty("schemas");
        var innerSteps = schemas.GetProperty("CompositionOverrides").GetProperty("properties").GetProperty("innerSteps");
        Assert.Equal((1, 10), (innerSteps.GetProperty("minimum").GetInt32(), innerSteps.GetProperty("maximum").GetInt32()));
        var request = schemas.GetProperty("CreateGenerationRequest");
        var components = request.GetProperty("properties").GetProperty("components").GetProperty("example");
        Assert.Equal(2, components.GetArrayLength());

        // The single-prompt example with the components example in it is a composed request the API takes.
        var body = System.Text.Json.Nodes.JsonNode.Parse(request.GetProperty("example").GetRawText())!.AsObject();
        body["components"] = System.Text.Json.Nodes.JsonNode.Parse(components.GetRawText());
        var created = await client.PostAsync(JsonSerializer.Deserialize<JsonElement>(body.ToJsonString()));
        Assert.Equal(["the surface of the moon", "a dog"], created.GetProperty("components").EnumerateArray().Select(c => c.GetProperty("prompt").GetString()));
        Assert.Equal([0.3, 0.35, 0.75, 0.95], created.GetProperty("components")[1].GetProperty("box").EnumerateArray().Select(v => v.GetDouble()));
    }

    [Fact]
    public async Task SwaggerExample_RunsToSucceeded()
    {
        using var client = factory.CreateClient();
        var doc = await client.GetJsonAsync("/swagger/v1/swagger.json");
        var example = doc.GetProperty("components").GetProperty("schemas").GetProperty("CreateGenerationRequest").GetProperty("example");
        var created = await client.PostAsync(JsonSerializer.Deserialize<JsonElement>(example.GetRawText()));
        Assert.Equal("succeeded", (await client.WaitAsync(created.Id())).Status());
    }
}

public class ReadinessWithoutWorkerTests(ReadinessWithoutWorkerTests.Factory factory) : IClassFixture<ReadinessWithoutWorkerTests.Factory>
{
    /// <summary>An API with no worker anywhere, and one required.</summary>
    public sealed class Factory : ServiceFactory
    {
        protected override bool InProcessWorker => false;

        protected override bool RequireWorker => true;
    }

    [Fact]
    public async Task Ready_Is503_WithoutAWorkerHeartbeat_WhileLiveIs200()
    {
        using var client = factory.CreateClient();
        using var ready = await client.GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Contains("No worker heartbeat", await ready.Content.ReadAsStringAsync());
        using var live = await client.GetAsync("/health/live");
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        var models = await client.GetJsonAsync("/v1/models");
        Assert.Empty(models.GetProperty("models").EnumerateArray());
    }

    [Fact]
    public async Task Submit_Is503_WhenNoWorkerRuns_AndStoresNothing()
    {
        using var client = factory.CreateClient();
        var mark = await factory.Probe.MarkAsync();
        var refused = await client.PostAsync(GenerationClient.Quick("waits for a worker"), expected: HttpStatusCode.ServiceUnavailable);
        Assert.Contains("no worker serving biggan-256 is running", refused.GetProperty("detail").GetString());
        Assert.Equal((0L, 0L), await factory.Probe.AddedSinceAsync(mark));
    }
}

public class SubmitBeforeAWorkerTests(SubmitBeforeAWorkerTests.Factory factory) : IClassFixture<SubmitBeforeAWorkerTests.Factory>
{
    /// <summary>One-machine development mode: no worker yet, and none required.</summary>
    public sealed class Factory : ServiceFactory
    {
        protected override bool InProcessWorker => false;

        protected override bool RequireWorker => false;
    }

    [Fact]
    public async Task Submit_Queues_WhenNoWorkerRunsYet_AndNoneIsRequired()
    {
        using var client = factory.CreateClient();
        var created = await client.PostAsync(GenerationClient.Quick("waits for a worker"));
        Assert.Equal("queued", created.Status());
        Assert.Equal(1, created.GetProperty("queuePosition").GetInt64());
    }
}

public class QueuePositionTests(QueuePositionTests.Factory factory) : IClassFixture<QueuePositionTests.Factory>
{
    /// <summary>No worker, so everything stays queued.</summary>
    public sealed class Factory : ServiceFactory
    {
        protected override bool InProcessWorker => false;
    }

    [Fact]
    public async Task QueuePosition_CountsTheGenerationsAhead_AndMovesUpWhenOneAheadIsCanceled()
    {
        using var client = factory.CreateClient();
        var ids = new List<Guid>();
        for (var i = 0; i < 3; i++)
            ids.Add((await client.PostAsync(GenerationClient.Quick($"in line {i}"))).Id());
        async Task<long[]> PositionsAsync() =>
            [.. await Task.WhenAll(ids.Skip(1).Select(async id => (await client.GetJsonAsync($"/v1/generations/{id}")).GetProperty("queuePosition").GetInt64()))];

        Assert.Equal(1, (await client.GetJsonAsync($"/v1/generations/{ids[0]}")).GetProperty("queuePosition").GetInt64());
        var before = await PositionsAsync();
        Assert.Equal([2L, 3L], before);

        using (var cancel = await client.PostAsync($"/v1/generations/{ids[0]}/cancel", null))
            Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        Assert.Equal(JsonValueKind.Null, (await client.GetJsonAsync($"/v1/generations/{ids[0]}")).GetProperty("queuePosition").ValueKind);
        var after = await PositionsAsync();
        Assert.Equal([1L, 2L], after);
    }
}
