using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using FuseDream.Access;
using FuseDream.Api.Hosting;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Serilog;

namespace FuseDream.Tests.Api;

/// <summary>The per-key request rate: a token bucket of three requests refilled every 200 ms here.</summary>
public class RateLimitTests(RateLimitTests.Factory factory) : IClassFixture<RateLimitTests.Factory>
{
    public sealed class Factory : ServiceFactory
    {
        protected override bool InProcessWorker => false;

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.UseSetting("Access:RequestsPerMinute", "3");
            builder.UseSetting("Access:RateWindow", "00:00:00.600");
        }
    }

    [Fact]
    public async Task ABurstOverTheRate_Is429WithRetryAfter_OnlyForThatKey_AndTheBucketRefills()
    {
        var busy = await factory.CreateKeyAsync([ApiKeyScopes.Read], "busy");
        var quiet = await factory.CreateKeyAsync([ApiKeyScopes.Read], "quiet");
        using var client = factory.CreateClientWithKey(busy.Token);
        using var other = factory.CreateClientWithKey(quiet.Token);

        // Three pass at once; faster than one per 200 ms, a request soon finds the bucket empty.
        HttpResponseMessage? refused = null;
        var passed = 0;
        for (var i = 0; i < 30 && refused is null; i++)
        {
            var response = await client.GetAsync("/v1/generations");
            if (response.StatusCode == HttpStatusCode.TooManyRequests) refused = response;
            else
            {
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                passed++;
                response.Dispose();
            }
        }
        Assert.NotNull(refused);
        Assert.InRange(passed, 3, 29);
        using (refused)
        {
            var problem = await AccessProblems.ReadAsync(refused, HttpStatusCode.TooManyRequests);
            Assert.Equal("1", refused.Headers.GetValues("Retry-After").Single());
            Assert.Equal("Access:RequestsPerMinute", problem.GetProperty("limit").GetString());
            Assert.Equal(3, problem.GetProperty("requestsPerWindow").GetInt32());
            Assert.Contains("Access:RequestsPerMinute", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        // Another key has its own bucket.
        using (var theirs = await other.GetAsync("/v1/generations"))
            Assert.Equal(HttpStatusCode.OK, theirs.StatusCode);

        // The bucket refills: one request's worth every 200 ms.
        await Task.Delay(TimeSpan.FromMilliseconds(450));
        using var again = await client.GetAsync("/v1/generations");
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
    }
}

/// <summary>Generations in flight per key, and the per-request cost limit, with no worker so submissions stay queued.</summary>
public class ActiveGenerationsLimitTests(ActiveGenerationsLimitTests.Factory factory) : IClassFixture<ActiveGenerationsLimitTests.Factory>
{
    public sealed class Factory : ServiceFactory
    {
        protected override bool InProcessWorker => false;

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.UseSetting("Access:MaxActiveGenerations", "2");
        }
    }

    [Fact]
    public async Task AThirdGenerationInFlight_Is429NamingTheLimit_StoresNothing_AndAFinishedOneFreesAPlace()
    {
        var key = await factory.CreateKeyAsync([ApiKeyScopes.Generate, ApiKeyScopes.Read], "busy submitter");
        var otherKey = await factory.CreateKeyAsync([ApiKeyScopes.Generate, ApiKeyScopes.Read], "other submitter");
        using var client = factory.CreateClientWithKey(key.Token);
        using var other = factory.CreateClientWithKey(otherKey.Token);

        var first = (await client.PostAsync(GenerationClient.Quick("in flight 1"), idempotencyKey: "flight-1")).Id();
        await client.PostAsync(GenerationClient.Quick("in flight 2"));
        var before = await factory.Probe.MarkAsync();
        using (var third = await client.PostAsJsonAsync("/v1/generations", GenerationClient.Quick("in flight 3")))
        {
            var problem = await AccessProblems.ReadAsync(third, HttpStatusCode.TooManyRequests);
            Assert.Equal("Access:MaxActiveGenerations", problem.GetProperty("limit").GetString());
            Assert.Equal(2, problem.GetProperty("maxActiveGenerations").GetInt32());
            Assert.Contains("at most 2", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
            Assert.True(third.Headers.Contains("Retry-After"));
        }
        Assert.Equal((0L, 0L), await factory.Probe.AddedSinceAsync(before));

        // A replay of an earlier submit is not a new generation: answered as before.
        Assert.Equal(first, (await client.PostAsync(GenerationClient.Quick("in flight 1"), idempotencyKey: "flight-1")).Id());
        // Another key is not held to this key's count.
        await other.PostAsync(GenerationClient.Quick("someone else's"));

        // Canceling one frees a place.
        using (var cancel = await client.PostAsync($"/v1/generations/{first}/cancel", null))
            Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        await client.PostAsync(GenerationClient.Quick("in flight 3"));
    }

    private const string Expensive =
        """{"prompt":"a dog","model":"biggan-256","options":{"basisIterations":10000,"samplesPerIteration":256,"steps":10000,"augmentations":256,"scoreEvery":1,"finalAugmentations":1024}}""";

    [Fact]
    public async Task TheCostLimit_Is400NamingIt_ForAKeyWithoutAdmin_AndAdminMayPassIt()
    {
        var key = await factory.CreateKeyAsync([ApiKeyScopes.Generate, ApiKeyScopes.Read], "ordinary");
        using var client = factory.CreateClientWithKey(key.Token);
        using var refused = await client.PostAsync("/v1/generations", new StringContent(Expensive, Encoding.UTF8, "application/json"));
        var problem = await AccessProblems.ReadAsync(refused, HttpStatusCode.BadRequest);
        Assert.Contains("(Generation:MaxClipEvaluations)", problem.GetProperty("errors").GetProperty("options")[0].GetString(), StringComparison.Ordinal);

        var adminKey = await factory.CreateKeyAsync([ApiKeyScopes.Admin], "admin");
        using var admin = factory.CreateClientWithKey(adminKey.Token);
        using var accepted = await admin.PostAsync("/v1/generations", new StringContent(Expensive, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
    }
}

/// <summary>Bodies over 64 KiB are refused with 413 on every endpoint that takes one, declared or chunked, before anything is stored; the client's faults never read as 503.</summary>
public class RequestSizeTests(RequestSizeTests.Factory factory) : IClassFixture<RequestSizeTests.Factory>
{
    /// <summary>With a sink that keeps every log event, to see what the server made of a request whose client is gone.</summary>
    public sealed class Factory : ServiceFactory
    {
        protected override bool InProcessWorker => false;

        public System.Collections.Concurrent.ConcurrentQueue<Serilog.Events.LogEvent> Events { get; } = new();

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.ConfigureTestServices(services => services.AddSerilog(
                lc => FuseDream.Logging.LoggingSetup.Configure(lc, json: false).WriteTo.Sink(new Collector(Events)), preserveStaticLogger: true));
        }

        private sealed class Collector(System.Collections.Concurrent.ConcurrentQueue<Serilog.Events.LogEvent> events) : Serilog.Core.ILogEventSink
        {
            public void Emit(Serilog.Events.LogEvent logEvent) => events.Enqueue(logEvent);
        }
    }

    public static TheoryData<string, bool> Bodies => new()
    {
        { "/v1/generations", false },
        { "/v1/generations", true },
        { "/v1/keys", false },
        { "/v1/keys", true },
    };

    [Theory]
    [MemberData(nameof(Bodies))]
    public async Task ABodyOver64KiB_Is413ProblemJson_AndNothingIsStored(string url, bool chunked)
    {
        using var client = factory.CreateClient();
        var before = await factory.Probe.MarkAsync();
        var keysBefore = (await factory.Keys.ListAsync(CancellationToken.None)).Count;
        // Valid JSON all the way, so only its size can be the reason.
        var json = $$"""{"prompt":"{{new string('a', 70 * 1024)}}","model":"biggan-256","name":"x","scopes":["read"]}""";
        HttpContent content = chunked
            ? new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(json)))
            : new StringContent(json, Encoding.UTF8);
        content.Headers.ContentType = new("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = content };
        if (chunked) request.Headers.TransferEncodingChunked = true;
        using var response = await client.SendAsync(request);
        var problem = await AccessProblems.ReadAsync(response, HttpStatusCode.RequestEntityTooLarge);
        Assert.Contains("too large", problem.GetProperty("title").GetString(), StringComparison.OrdinalIgnoreCase);
        Assert.Equal((0L, 0L), await factory.Probe.AddedSinceAsync(before));
        Assert.Equal(keysBefore, (await factory.Keys.ListAsync(CancellationToken.None)).Count);
    }

    [Fact]
    public async Task AClientThatDisconnectsMidBody_IsNeverAnswered503()
    {
        // The client declares 5000 bytes, sends about 100 and goes away: Kestrel's read fails with
        // an IOException, which is the client's doing, not the database's.
        var marker = Guid.NewGuid().ToString("N");
        var earlier = factory.Events.Count; // a class's tests run one at a time: later events are this request's
        using (var tcp = new TcpClient())
        {
            await tcp.ConnectAsync(IPAddress.Loopback, factory.Address.Port);
            await using var stream = tcp.GetStream();
            var head = $"POST /v1/generations HTTP/1.1\r\nHost: {factory.Address.Authority}\r\nAuthorization: Bearer {factory.AdminKey}\r\n" +
                       $"Idempotency-Key: {marker}\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{{\"prompt\":\"" + new string('a', 88);
            await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
            await stream.FlushAsync();
            await Task.Delay(200);
            tcp.Client.LingerState = new LingerOption(true, 0); // close with a reset, as a crashed client does
        }

        // The server finished the request (the request log names it) without a 503 or the database handler's warning.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        Serilog.Events.LogEvent? done = null;
        while (done is null && DateTime.UtcNow < deadline)
        {
            done = factory.Events.Skip(earlier).FirstOrDefault(e => e.Properties.TryGetValue("RequestPath", out var path)
                && path.ToString().Contains("/v1/generations", StringComparison.Ordinal) && e.Properties.ContainsKey("StatusCode"));
            if (done is null) await Task.Delay(50);
        }
        Assert.NotNull(done);
        Assert.NotEqual("503", done.Properties["StatusCode"].ToString());
        Assert.DoesNotContain(factory.Events.Skip(earlier), e => e.MessageTemplate.Text.Contains("transient error", StringComparison.Ordinal));
        Assert.Equal(0, await factory.Probe.GenerationsWithPromptAsync(new string('a', 88)));
    }

    [Fact]
    public async Task TheDatabaseHandler_DeclinesClientDisconnectsAndBodyErrors_AndTakesRealDatabaseFailures()
    {
        var handler = factory.Services.GetServices<Microsoft.AspNetCore.Diagnostics.IExceptionHandler>().OfType<DatabaseUnavailableHandler>().Single();
        using var aborted = new CancellationTokenSource();
        await aborted.CancelAsync();
        var cases = new (Exception Error, bool ClientGone, bool Expected503)[]
        {
            (new Microsoft.AspNetCore.Connections.ConnectionResetException("The client reset the request stream."), false, false),
            (new IOException("The client went away."), true, false),
            (new BadHttpRequestException("Request body too large.", StatusCodes.Status413PayloadTooLarge), false, false),
            (new OperationCanceledException(), true, false),
            (new Npgsql.NpgsqlException("Exception while reading from stream", new IOException("connection reset by the server")), false, true),
        };
        foreach (var (error, clientGone, expected503) in cases)
        {
            var context = new DefaultHttpContext { RequestServices = factory.Services, RequestAborted = clientGone ? aborted.Token : CancellationToken.None };
            context.Response.Body = new MemoryStream();
            var handled = await handler.TryHandleAsync(context, error, CancellationToken.None);
            Assert.Equal(expected503, handled);
            Assert.Equal(expected503 ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status200OK, context.Response.StatusCode);
        }
    }

    [Fact]
    public async Task HeadersOverKestrelsLimit_AreRefusedBeforeTheApp()
    {
        using var client = factory.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/generations");
        request.Headers.Add("X-Padding", new string('p', ApiAccess.MaxRequestHeadersTotalBytes + 1));
        using var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.RequestHeaderFieldsTooLarge, response.StatusCode);

        using var longQuery = await client.GetAsync("/v1/generations?cursor=" + new string('c', ApiAccess.MaxRequestLineBytes));
        Assert.Equal(HttpStatusCode.RequestUriTooLong, longQuery.StatusCode);
    }
}
