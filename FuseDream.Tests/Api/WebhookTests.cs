using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using FuseDream.Access;
using FuseDream.Tests.Support;
using Microsoft.AspNetCore.Hosting;

namespace FuseDream.Tests.Api;

/// <summary>
/// Signed webhooks end to end: a receiver on 127.0.0.1 (reachable only through
/// <c>Webhooks:AllowedHosts</c>), signatures checked by the Standard Webhooks scheme written
/// out here, retries with (tiny) exponential back-off, and the SSRF refusals at submit.
/// </summary>
public class WebhookTests(WebhookTests.Factory factory) : IClassFixture<WebhookTests.Factory>
{
    public sealed class Factory : ServiceFactory
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.UseSetting("Webhooks:AllowedHosts:0", "127.0.0.1");
            builder.UseSetting("Webhooks:RetryDelay", "00:00:00.150");
            builder.UseSetting("Webhooks:MaxAttempts", "3");
            builder.UseSetting("Webhooks:DispatchInterval", "00:00:00.050");
        }
    }

    [Fact]
    public async Task Events_AreDeliveredSigned_AndTheSignatureVerifiesByTheStandardScheme()
    {
        await using var receiver = await WebhookReceiver.StartAsync(_ => 200);
        var key = await factory.CreateKeyAsync([ApiKeyScopes.Generate, ApiKeyScopes.Read], "webhook user");
        using var client = factory.CreateClientWithKey(key.Token);
        var body = new Dictionary<string, object>
        {
            ["prompt"] = "a signed dog", ["model"] = "biggan-256", ["seed"] = 3, ["preset"] = "fast",
            ["options"] = new { steps = 6, augmentations = 2, basisIterations = 2, scoreEvery = 2 },
            ["webhook"] = receiver.Url("/hooks/fusedream"), ["webhookEvents"] = new[] { "start", "completed" },
        };
        var id = (await client.PostAsync(body)).Id();
        Assert.Equal("succeeded", (await client.WaitAsync(id)).Status());

        var received = await receiver.WaitForAsync(2);
        Assert.Equal(["generation.start", "generation.completed"], received.Select(r => r.Json.GetProperty("type").GetString()));
        foreach (var request in received)
        {
            Assert.Equal("/hooks/fusedream", request.Path);
            Assert.True(StandardWebhooks.Verify(key.WebhookSecret, request.Headers, request.Body), $"signature of {request.Body}");
            Assert.Equal(id, request.Json.GetProperty("data").GetProperty("id").GetGuid());
        }
        Assert.Equal("succeeded", received[1].Json.GetProperty("data").GetProperty("status").GetString());
        // Another key's secret does not verify: the signature is the owner's.
        var other = await factory.CreateKeyAsync([ApiKeyScopes.Read]);
        Assert.False(StandardWebhooks.Verify(other.WebhookSecret, received[0].Headers, received[0].Body));

        // The owner's delivery log.
        var log = await DeliveriesAsync(client, id, d => d.Count(e => e.GetProperty("status").GetString() == "delivered") == 2);
        Assert.All(log, d => Assert.Equal(200, d.GetProperty("lastStatusCode").GetInt32()));
        Assert.All(log, d => Assert.Equal(1, d.GetProperty("attempts").GetInt32()));
        using var otherClient = factory.CreateClientWithKey((await factory.CreateKeyAsync([ApiKeyScopes.Read])).Token);
        await AccessProblems.ReadAsync(await otherClient.GetAsync($"/v1/generations/{id}/webhooks"), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task ProgressEvents_AreThrottled_ToOnePerIntervalPerGeneration()
    {
        await using var receiver = await WebhookReceiver.StartAsync(_ => 204);
        var key = await factory.CreateKeyAsync([ApiKeyScopes.Generate, ApiKeyScopes.Read], "progress watcher");
        using var client = factory.CreateClientWithKey(key.Token);
        var body = new Dictionary<string, object>
        {
            ["prompt"] = "a chatty fox", ["model"] = "biggan-256", ["preset"] = "fast",
            // About 60 progress writes (every 50 ms in these tests) within one 5 s progress interval.
            ["options"] = new { steps = 120, augmentations = 2, basisIterations = 2, scoreEvery = 2 },
            ["webhook"] = receiver.Url("/progress"), ["webhookEvents"] = new[] { "progress", "completed" },
        };
        var id = (await client.PostAsync(body)).Id();
        Assert.Equal("succeeded", (await client.WaitAsync(id)).Status());
        var log = await DeliveriesAsync(client, id, d => d.Any(e => e.GetProperty("event").GetString() == "completed"
            && e.GetProperty("status").GetString() == "delivered"));
        // The first progress write is sent; the later ones within the interval fold into one
        // pending event (its payload the latest progress), sent once the interval has passed.
        var progress = log.Where(e => e.GetProperty("event").GetString() == "progress").ToList();
        Assert.InRange(progress.Count, 1, 2);
        var sent = receiver.Requests.Where(r => r.Json.GetProperty("type").GetString() == "generation.progress").ToList();
        Assert.NotEmpty(sent);
        Assert.True(sent[0].Json.GetProperty("data").TryGetProperty("progress", out var first), sent[0].Body);
        Assert.Equal("running", sent[0].Json.GetProperty("data").GetProperty("status").GetString());
        Assert.True(first.GetProperty("total").GetInt32() > 0);
    }

    [Fact]
    public async Task AFailingReceiver_IsRetriedWithGrowingWaits_ThenRecordedAsFailed()
    {
        await using var receiver = await WebhookReceiver.StartAsync(_ => 503);
        var key = await factory.CreateKeyAsync([ApiKeyScopes.Generate, ApiKeyScopes.Read], "failing receiver");
        using var client = factory.CreateClientWithKey(key.Token);
        var body = new Dictionary<string, object>
        {
            ["prompt"] = "an unlucky cat", ["model"] = "biggan-256", ["preset"] = "fast",
            ["options"] = new { steps = 4, augmentations = 2, basisIterations = 2, scoreEvery = 2 },
            ["webhook"] = receiver.Url("/down"),
        };
        var id = (await client.PostAsync(body)).Id();
        await client.WaitAsync(id);

        var log = await DeliveriesAsync(client, id, d => d.Count == 1 && d[0].GetProperty("status").GetString() == "failed");
        var delivery = Assert.Single(log);
        Assert.Equal("completed", delivery.GetProperty("event").GetString());
        Assert.Equal(3, delivery.GetProperty("attempts").GetInt32());
        Assert.Equal(503, delivery.GetProperty("lastStatusCode").GetInt32());
        Assert.Contains("gave up after 3 attempts", delivery.GetProperty("lastError").GetString(), StringComparison.Ordinal);

        // Three attempts of one event (one webhook-id), each wait at least the back-off: 150 ms, then 300 ms.
        var attempts = receiver.Requests.ToList();
        Assert.Equal(3, attempts.Count);
        Assert.Single(attempts.Select(a => a.Headers["webhook-id"]).Distinct());
        Assert.True(attempts[1].At - attempts[0].At >= TimeSpan.FromMilliseconds(150), $"first wait {attempts[1].At - attempts[0].At}");
        Assert.True(attempts[2].At - attempts[1].At >= TimeSpan.FromMilliseconds(300), $"second wait {attempts[2].At - attempts[1].At}");
    }

    [Theory]
    [InlineData("https://10.1.2.3/hook", "private")]
    [InlineData("https://169.254.169.254/latest/meta-data", "link-local")]
    [InlineData("https://100.64.0.1/hook", "carrier-grade NAT")]
    [InlineData("https://[::1]/hook", "loopback")]
    [InlineData("https://[fd00:ec2::254]/hook", "unique-local")]
    [InlineData("http://93.184.215.14/hook", "must be an https URL")]
    [InlineData("not a url", "absolute https URL")]
    public async Task AWebhookInsideTheNetwork_IsRefusedAtSubmit_Naming_webhook(string url, string reason)
    {
        using var client = factory.CreateClient();
        var before = await factory.Probe.MarkAsync();
        using var response = await client.PostAsJsonAsync("/v1/generations", new Dictionary<string, object>
        {
            ["prompt"] = "a nosy request", ["model"] = "biggan-256", ["preset"] = "fast", ["webhook"] = url,
        });
        var problem = await AccessProblems.ReadAsync(response, HttpStatusCode.BadRequest);
        var message = problem.GetProperty("errors").GetProperty("webhook")[0].GetString()!;
        Assert.Contains(reason, message, StringComparison.Ordinal);
        Assert.Equal((0L, 0L), await factory.Probe.AddedSinceAsync(before));
    }

    [Fact]
    public async Task UnknownWebhookEvents_Are400_Naming_webhookEvents()
    {
        using var client = factory.CreateClient();
        using var response = await client.PostAsJsonAsync("/v1/generations", new Dictionary<string, object>
        {
            ["prompt"] = "a dog", ["model"] = "biggan-256", ["webhook"] = "http://127.0.0.1:9/x", ["webhookEvents"] = new[] { "finished" },
        });
        var problem = await AccessProblems.ReadAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("start, progress, completed", problem.GetProperty("errors").GetProperty("webhookEvents")[0].GetString(), StringComparison.Ordinal);
    }

    private static async Task<List<JsonElement>> DeliveriesAsync(HttpClient client, Guid id, Func<List<JsonElement>, bool> until)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        List<JsonElement> last;
        do
        {
            last = [.. (await client.GetJsonAsync($"/v1/generations/{id}/webhooks")).EnumerateArray()];
            if (until(last)) return last;
            await Task.Delay(50);
        }
        while (DateTime.UtcNow < deadline);
        Assert.Fail($"the deliveries of {id} did not reach the expected state; last seen: {JsonSerializer.Serialize(last)}");
        return last;
    }

    /// <summary>
    /// The Standard Webhooks verification as a receiver writes it from the specification
    /// (standardwebhooks.com), independent of the service's signer: HMAC-SHA256 keyed with the
    /// base64-decoded secret after <c>whsec_</c>, over <c>id.timestamp.body</c>; the header may
    /// hold several space-separated <c>v1,&lt;base64&gt;</c> signatures; timestamps older or
    /// newer than five minutes are refused.
    /// </summary>
    private static class StandardWebhooks
    {
        public static bool Verify(string secret, IReadOnlyDictionary<string, string> headers, string body)
        {
            if (!headers.TryGetValue("webhook-id", out var id) || !headers.TryGetValue("webhook-timestamp", out var ts)
                || !headers.TryGetValue("webhook-signature", out var signatures)) return false;
            var timestamp = long.Parse(ts, System.Globalization.CultureInfo.InvariantCulture);
            if (Math.Abs(DateTimeOffset.UtcNow.ToUnixTimeSeconds() - timestamp) > 300) return false;
            using var hmac = new HMACSHA256(Convert.FromBase64String(secret.Split('_', 2)[1]));
            var expected = hmac.ComputeHash(Encoding.UTF8.GetBytes(id + "." + ts + "." + body));
            return signatures.Split(' ').Any(s => s.StartsWith("v1,", StringComparison.Ordinal)
                && CryptographicOperations.FixedTimeEquals(Convert.FromBase64String(s[3..]), expected));
        }
    }
}
