using System.Net;
using System.Text.Json;
using FuseDream.Access;
using FuseDream.Api.Apis;
using FuseDream.Tests.Api;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace FuseDream.Tests.Web;

/// <summary>
/// <c>GET /v1/generations/{id}/events</c> over real HTTP, on the test pipeline: ordered events
/// through a whole run, the final state last and then the end of the stream, resuming with
/// <c>Last-Event-ID</c>, heartbeats, ownership, and one database reader per generation however
/// many listen.
/// </summary>
public class GenerationEventsTests(GenerationEventsTests.Factory factory) : IClassFixture<GenerationEventsTests.Factory>
{
    public sealed class Factory : ServiceFactory
    {
        public const int PollMilliseconds = 20;

        public Factory() => Pipelines.StepDelay = TimeSpan.FromMilliseconds(40);

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.UseSetting("Events:PollInterval", $"00:00:00.{PollMilliseconds:000}");
            builder.UseSetting("Events:Heartbeat", "00:00:00.150");
        }

        public GenerationEventHub Hub => Services.GetRequiredService<GenerationEventHub>();
    }

    private static int? Step(ServerSentEvent e) =>
        e.Data.GetProperty("progress") is { ValueKind: JsonValueKind.Object } p ? p.GetProperty("step").GetInt32() : null;

    [Fact]
    public async Task Stream_DeliversOrderedEventsThroughAWholeRun_AndEndsAfterTheFinalState()
    {
        using var client = factory.CreateClient();
        var id = (await client.PostAsync(GenerationClient.Quick("events: a whole run", steps: 12, previewEvery: 3))).Id();

        await using var stream = await EventStream.OpenAsync(client, id);
        Assert.Equal(HttpStatusCode.OK, stream.Response.StatusCode);
        Assert.Equal("text/event-stream", stream.Response.Content.Headers.ContentType?.MediaType);
        var events = await stream.ReadToEndAsync(); // returns only once the server closed the stream

        Assert.NotEmpty(events);
        Assert.All(events.Zip(events.Skip(1)), pair => Assert.True(pair.Second.Id > pair.First.Id, $"ids not increasing: {pair.First.Id} then {pair.Second.Id}"));
        var final = events[^1];
        Assert.Equal("final", final.Name);
        Assert.Equal("succeeded", final.Data.GetProperty("status").GetString());
        Assert.Equal(JsonValueKind.Object, final.Data.GetProperty("result").ValueKind);
        Assert.All(events[..^1], e => Assert.Equal("progress", e.Name));

        var running = events.Where(e => e.Data.GetProperty("status").GetString() == "running" && Step(e) is not null).ToList();
        Assert.True(running.Count >= 2, $"expected several running events, got {running.Count}");
        var steps = running.Select(e => Step(e)!.Value).ToList();
        Assert.Equal(steps.Order(), steps);
        Assert.All(running, e =>
        {
            var progress = e.Data.GetProperty("progress");
            Assert.Equal(12, progress.GetProperty("total").GetInt32());
            Assert.InRange(progress.GetProperty("percent").GetDouble(), 0, 100);
            Assert.False(string.IsNullOrEmpty(progress.GetProperty("phase").GetString()));
        });
        Assert.Contains(running, e => e.Data.GetProperty("progress").GetProperty("etaSeconds").ValueKind == JsonValueKind.Number);
        Assert.Contains(events, e => e.Data.GetProperty("progress") is { ValueKind: JsonValueKind.Object } p && p.GetProperty("augClip").ValueKind == JsonValueKind.Number);

        // Each preview is announced once, by the first event that sees it, and its link works.
        var previews = events.SelectMany(e => e.Data.GetProperty("newPreviews").EnumerateArray().Select(p => p.GetProperty("step").GetInt32())).ToList();
        Assert.NotEmpty(previews);
        Assert.Equal(previews.Distinct().Order(), previews);
        var link = events.SelectMany(e => e.Data.GetProperty("newPreviews").EnumerateArray()).First().GetProperty("url").GetString()!;
        using var png = await client.GetAsync(link);
        Assert.Equal(HttpStatusCode.OK, png.StatusCode);
    }

    [Fact]
    public async Task Resume_WithLastEventId_SendsOnlyLaterEvents()
    {
        using var client = factory.CreateClient();
        var id = (await client.PostAsync(GenerationClient.Quick("events: resumed", steps: 25))).Id();

        long lastSeen;
        int stepSeen;
        await using (var first = await EventStream.OpenAsync(client, id))
        {
            ServerSentEvent? e;
            do e = await first.NextAsync();
            while (e is not null && (Step(e) ?? 0) < 3);
            Assert.NotNull(e);
            lastSeen = e.Id;
            stepSeen = Step(e)!.Value;
        } // the client goes away mid-run

        await using var resumed = await EventStream.OpenAsync(client, id, lastSeen);
        var later = await resumed.ReadToEndAsync();
        Assert.NotEmpty(later);
        Assert.All(later, e => Assert.True(e.Id > lastSeen, $"event {e.Id} is not after {lastSeen}"));
        Assert.All(later.Where(e => Step(e) is not null), e => Assert.True(Step(e) >= stepSeen, $"step {Step(e)} went back before {stepSeen}"));
        Assert.Equal("final", later[^1].Name);

        // Resuming after the final event: nothing is later, so the stream ends at once, empty.
        await using var afterEnd = await EventStream.OpenAsync(client, id, later[^1].Id);
        Assert.Empty(await afterEnd.ReadToEndAsync(TimeSpan.FromSeconds(10)));

        // Without Last-Event-ID a finished generation's stream is its final state alone.
        await using var fresh = await EventStream.OpenAsync(client, id);
        var all = await fresh.ReadToEndAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("final", Assert.Single(all).Name);
    }

    [Fact]
    public async Task SilentStream_SendsPingComments()
    {
        // Steps far apart: between two progress writes the stream has nothing to say for longer than the heartbeat.
        factory.Pipelines.StepDelay = TimeSpan.FromMilliseconds(700);
        try
        {
            using var client = factory.CreateClient();
            var id = (await client.PostAsync(GenerationClient.Quick("events: silent", steps: 20))).Id();
            await using var stream = await EventStream.OpenAsync(client, id);
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
            while (stream.Comments.Count == 0 && DateTime.UtcNow < deadline)
                if (await stream.NextAsync() is null) break;
            Assert.Contains(": ping", stream.Comments);
            (await client.PostAsync($"/v1/generations/{id}/cancel", null)).Dispose();
            await client.WaitAsync(id);
        }
        finally
        {
            factory.Pipelines.StepDelay = TimeSpan.FromMilliseconds(40);
        }
    }

    [Fact]
    public async Task AnotherKeysGeneration_AnswersNotFound_AndBadLastEventId_AnswersBadRequest()
    {
        using var admin = factory.CreateClient();
        var id = (await admin.PostAsync(GenerationClient.Quick("events: someone else's"))).Id();
        var other = await factory.CreateKeyAsync([ApiKeyScopes.Read, ApiKeyScopes.Generate], "other");
        using var stranger = factory.CreateClientWithKey(other.Token);
        await using (var stream = await EventStream.OpenAsync(stranger, id))
        {
            Assert.Equal(HttpStatusCode.NotFound, stream.Response.StatusCode);
            Assert.Equal("application/problem+json", stream.Response.Content.Headers.ContentType?.MediaType);
        }
        using var anonymous = factory.CreateAnonymousClient();
        await using (var stream = await EventStream.OpenAsync(anonymous, id))
            Assert.Equal(HttpStatusCode.Unauthorized, stream.Response.StatusCode);

        using var bad = new HttpRequestMessage(HttpMethod.Get, $"/v1/generations/{id}/events");
        bad.Headers.Add("Last-Event-ID", "yesterday");
        using var response = await admin.SendAsync(bad);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.True(problem.GetProperty("errors").TryGetProperty("Last-Event-ID", out _), problem.ToString());
    }

    [Fact]
    public async Task FiftyListeners_ReadTheDatabaseAsOftenAsOne()
    {
        using var client = factory.CreateClient();
        var window = TimeSpan.FromSeconds(1.5);

        async Task<long> ReadsWhileListeningAsync(string prompt, int listeners)
        {
            var id = (await client.PostAsync(GenerationClient.Quick(prompt, steps: 150))).Id();
            await client.WaitAsync(id, g => g.Status() == "running");
            var streams = await Task.WhenAll(Enumerable.Range(0, listeners).Select(_ => EventStream.OpenAsync(client, id)));
            try
            {
                foreach (var s in streams)
                {
                    Assert.Equal(HttpStatusCode.OK, s.Response.StatusCode);
                    Assert.NotNull(await s.NextAsync()); // every listener is connected and served
                }
                var before = factory.Hub.Reads;
                // Keep every listener draining while the window passes.
                using var drain = new CancellationTokenSource(window);
                await Task.WhenAll(streams.Select(async s =>
                {
                    try { while (!drain.IsCancellationRequested && await s.NextAsync(window) is not null) { } }
                    catch (OperationCanceledException) { }
                }));
                return factory.Hub.Reads - before;
            }
            finally
            {
                foreach (var s in streams) await s.DisposeAsync();
                (await client.PostAsync($"/v1/generations/{id}/cancel", null)).Dispose();
                await client.WaitAsync(id);
            }
        }

        var one = await ReadsWhileListeningAsync("events: one listener", 1);
        var fifty = await ReadsWhileListeningAsync("events: fifty listeners", 50);

        // About one read per poll interval in both cases; a read per listener would be 50 times as many.
        var expected = window.TotalMilliseconds / Factory.PollMilliseconds;
        Assert.InRange(one, 3, expected * 1.5);
        Assert.True(fifty <= one * 2 + 5, $"50 listeners caused {fifty} reads in {window.TotalSeconds} s; 1 listener caused {one}");
    }
}
