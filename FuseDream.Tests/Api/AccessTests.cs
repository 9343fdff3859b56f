using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using FuseDream.Access;
using Npgsql;

namespace FuseDream.Tests.Api;

/// <summary>API keys through HTTP: who gets in (401), what a key may do (403), and whose generations it sees (404 for another's).</summary>
public class AccessTests(AccessTests.Factory factory) : IClassFixture<AccessTests.Factory>
{
    public sealed class Factory : ServiceFactory;

    private static readonly string[] GenerateAndRead = [ApiKeyScopes.Generate, ApiKeyScopes.Read];

    [Fact]
    public async Task NoKey_Is401_WithABearerChallenge_AndHealthStaysOpen()
    {
        using var client = factory.CreateAnonymousClient();
        foreach (var url in new[] { "/v1/generations", "/v1/models", "/v1/keys" })
        {
            using var response = await client.GetAsync(url);
            var problem = await AccessProblems.ReadAsync(response, HttpStatusCode.Unauthorized);
            Assert.Equal("Bearer realm=\"FuseDream\"", response.Headers.WwwAuthenticate.ToString());
            Assert.Equal("An API key is required.", problem.GetProperty("title").GetString());
        }
        using var submit = await client.PostAsJsonAsync("/v1/generations", GenerationClient.Quick("no key"));
        await AccessProblems.ReadAsync(submit, HttpStatusCode.Unauthorized);

        using var live = await client.GetAsync("/health/live");
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        using var ready = await client.GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
    }

    [Theory]
    [InlineData("fd_0123456789abcdef_nosuchsecret", "no such API key")]
    [InlineData("sk-something-else", "not an API key of this service")]
    public async Task AnUnknownOrMalformedKey_Is401_NamingWhy(string key, string reason)
    {
        using var client = factory.CreateClientWithKey(key);
        using var response = await client.GetAsync("/v1/generations");
        var problem = await AccessProblems.ReadAsync(response, HttpStatusCode.Unauthorized);
        Assert.Contains(reason, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        var challenge = response.Headers.WwwAuthenticate.ToString();
        Assert.StartsWith("Bearer realm=\"FuseDream\", error=\"invalid_token\"", challenge);
        Assert.Contains(reason, challenge, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Revocation_IsEffectiveOnTheNextRequest()
    {
        var key = await factory.CreateKeyAsync(GenerateAndRead, "to revoke");
        using var client = factory.CreateClientWithKey(key.Token);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v1/generations")).StatusCode);

        using var admin = factory.CreateClient();
        using var revoke = await admin.DeleteAsync($"/v1/keys/{key.Key.Id}");
        Assert.Equal(HttpStatusCode.OK, revoke.StatusCode);

        using var response = await client.GetAsync("/v1/generations");
        var problem = await AccessProblems.ReadAsync(response, HttpStatusCode.Unauthorized);
        Assert.Contains("revoked", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnExpiredKey_Is401_NamingTheExpiry()
    {
        var key = await factory.CreateKeyAsync(GenerateAndRead, "expiring", DateTimeOffset.UtcNow.AddDays(1));
        using var client = factory.CreateClientWithKey(key.Token);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v1/generations")).StatusCode);
        await using (var connection = new NpgsqlConnection(factory.ConnectionString))
        {
            await connection.OpenAsync();
            await using var expire = new NpgsqlCommand("update fusedream.api_keys set expires_at = now() - interval '1 minute' where id = @id", connection);
            expire.Parameters.AddWithValue("id", key.Key.Id);
            Assert.Equal(1, await expire.ExecuteNonQueryAsync());
        }
        using var response = await client.GetAsync("/v1/generations");
        var problem = await AccessProblems.ReadAsync(response, HttpStatusCode.Unauthorized);
        Assert.Contains("expired", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AMissingScope_Is403_NamingTheScope()
    {
        var reader = await factory.CreateKeyAsync([ApiKeyScopes.Read], "reader");
        using var client = factory.CreateClientWithKey(reader.Token);
        var before = await factory.Probe.MarkAsync();
        using var submit = await client.PostAsJsonAsync("/v1/generations", GenerationClient.Quick("read only"));
        var problem = await AccessProblems.ReadAsync(submit, HttpStatusCode.Forbidden);
        Assert.Contains("'generate'", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(["generate"], problem.GetProperty("missingScopes").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal((0L, 0L), await factory.Probe.AddedSinceAsync(before));

        using var keys = await client.GetAsync("/v1/keys");
        var adminOnly = await AccessProblems.ReadAsync(keys, HttpStatusCode.Forbidden);
        Assert.Contains("'admin'", adminOnly.GetProperty("detail").GetString(), StringComparison.Ordinal);

        var submitter = await factory.CreateKeyAsync([ApiKeyScopes.Generate], "submit only");
        using var writeOnly = factory.CreateClientWithKey(submitter.Token);
        using var list = await writeOnly.GetAsync("/v1/generations");
        var needsRead = await AccessProblems.ReadAsync(list, HttpStatusCode.Forbidden);
        Assert.Contains("'read'", needsRead.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AKey_SeesListsCancelsAndDownloadsOnlyItsOwnGenerations()
    {
        var alice = await factory.CreateKeyAsync(GenerateAndRead, "alice");
        var bob = await factory.CreateKeyAsync(GenerateAndRead, "bob");
        using var a = factory.CreateClientWithKey(alice.Token);
        using var b = factory.CreateClientWithKey(bob.Token);

        var done = (await a.PostAsync(GenerationClient.Quick("alice's finished dog", previewEvery: 2))).Id();
        await a.WaitAsync(done);
        // Long enough (steps × the test pipeline's 5 ms) to stay running while the other key tries.
        var running = (await a.PostAsync(GenerationClient.Quick("alice's running cat", steps: 4000))).Id();
        await a.WaitAsync(running, g => g.Status() == "running");
        var bobs = (await b.PostAsync(GenerationClient.Quick("bob's bird"))).Id();

        foreach (var url in new[]
        {
            $"/v1/generations/{done}", $"/v1/generations/{done}/image", $"/v1/generations/{done}/trace",
            $"/v1/generations/{done}/previews", $"/v1/generations/{done}/previews/2", $"/v1/generations/{running}",
        })
        {
            using var mine = await a.GetAsync(url);
            Assert.True(mine.IsSuccessStatusCode, $"alice GET {url}: {(int)mine.StatusCode}");
            using var theirs = await b.GetAsync(url);
            var problem = await AccessProblems.ReadAsync(theirs, HttpStatusCode.NotFound);
            Assert.DoesNotContain("alice", problem.ToString(), StringComparison.Ordinal);
        }

        // Bob's cancel of Alice's running generation is a 404 and changes nothing.
        using var cancel = await b.PostAsync($"/v1/generations/{running}/cancel", null);
        await AccessProblems.ReadAsync(cancel, HttpStatusCode.NotFound);
        Assert.Equal("running", await factory.Probe.StatusAsync(running));
        Assert.False(await CancelRequestedAsync(running));

        // Lists: each key its own; the admin key everyone's.
        var alicesList = Ids(await a.GetJsonAsync("/v1/generations?limit=100"));
        var bobsList = Ids(await b.GetJsonAsync("/v1/generations?limit=100"));
        Assert.Contains(done, alicesList);
        Assert.Contains(running, alicesList);
        Assert.DoesNotContain(bobs, alicesList);
        Assert.Equal([bobs], bobsList);
        using var admin = factory.CreateClient();
        var all = Ids(await admin.GetJsonAsync("/v1/generations?limit=100"));
        Assert.Superset(new HashSet<Guid> { done, running, bobs }, all.ToHashSet());
        Assert.Equal("running", (await admin.GetJsonAsync($"/v1/generations/{running}")).Status());

        // The owner's own cancel works.
        using var own = await a.PostAsync($"/v1/generations/{running}/cancel", null);
        Assert.True(own.IsSuccessStatusCode, $"{(int)own.StatusCode}");
        Assert.Equal("canceled", (await a.WaitAsync(running)).Status());
    }

    [Fact]
    public async Task IdempotencyKeys_AreScopedPerApiKey()
    {
        var first = await factory.CreateKeyAsync(GenerateAndRead, "first");
        var second = await factory.CreateKeyAsync(GenerateAndRead, "second");
        using var one = factory.CreateClientWithKey(first.Token);
        using var two = factory.CreateClientWithKey(second.Token);
        var body = GenerationClient.Quick("the same request from two keys");

        var a = (await one.PostAsync(body, idempotencyKey: "shared-key")).Id();
        var b = (await two.PostAsync(body, idempotencyKey: "shared-key")).Id();
        Assert.NotEqual(a, b);
        Assert.Equal(a, (await one.PostAsync(body, idempotencyKey: "shared-key")).Id());
        Assert.Equal(b, (await two.PostAsync(body, idempotencyKey: "shared-key")).Id());
        Assert.Equal(2, await factory.Probe.GenerationsWithPromptAsync("the same request from two keys"));
    }

    [Fact]
    public async Task KeysApi_CreatesAKeyShownOnce_ListsWithoutSecrets_AndValidates()
    {
        using var admin = factory.CreateClient();
        using var created = await admin.PostAsJsonAsync("/v1/keys", new { name = "made over http", scopes = new[] { "read" } });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var body = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement;
        var token = body.GetProperty("key").GetString()!;
        Assert.StartsWith("fd_", token, StringComparison.Ordinal);
        Assert.StartsWith("whsec_", body.GetProperty("webhookSecret").GetString(), StringComparison.Ordinal);
        Assert.Equal($"/v1/keys/{body.GetProperty("id").GetString()}", created.Headers.Location?.ToString());

        using var reader = factory.CreateClientWithKey(token);
        Assert.Equal(HttpStatusCode.OK, (await reader.GetAsync("/v1/generations")).StatusCode);

        using var list = await admin.GetAsync("/v1/keys");
        var listed = await list.Content.ReadAsStringAsync();
        Assert.Contains("made over http", listed, StringComparison.Ordinal);
        Assert.DoesNotContain(token, listed, StringComparison.Ordinal);
        // The secret is everything after fd_<id>_ (it may itself contain '_').
        Assert.DoesNotContain(token.Split('_', 3)[2], listed, StringComparison.Ordinal);

        using var bad = await admin.PostAsJsonAsync("/v1/keys", new { name = "bad", scopes = new[] { "write" } });
        var problem = await AccessProblems.ReadAsync(bad, HttpStatusCode.BadRequest);
        Assert.Contains("write", problem.GetProperty("errors").GetProperty("scopes")[0].GetString(), StringComparison.Ordinal);

        using var missing = await admin.DeleteAsync("/v1/keys/0000000000000000");
        await AccessProblems.ReadAsync(missing, HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task TheOpenApiDocument_DeclaresTheBearerScheme_ForSwaggerUisAuthorizeButton()
    {
        using var client = factory.CreateAnonymousClient(); // the document itself is public where Swagger is on
        var document = await client.GetJsonAsync("/swagger/v1/swagger.json");
        var scheme = document.GetProperty("components").GetProperty("securitySchemes").GetProperty("Bearer");
        Assert.Equal("http", scheme.GetProperty("type").GetString());
        Assert.Equal("bearer", scheme.GetProperty("scheme").GetString());
        Assert.Contains(document.GetProperty("security").EnumerateArray(), r => r.TryGetProperty("Bearer", out _));
        Assert.Contains("Authorize", document.GetProperty("info").GetProperty("description").GetString(), StringComparison.Ordinal);
    }

    private async Task<bool> CancelRequestedAsync(Guid id)
    {
        await using var connection = new NpgsqlConnection(factory.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("select cancel_requested from fusedream.generations where id = @id", connection);
        command.Parameters.AddWithValue("id", id);
        return (bool)(await command.ExecuteScalarAsync())!;
    }

    private static List<Guid> Ids(JsonElement page) =>
        [.. page.GetProperty("items").EnumerateArray().Select(g => g.Id())];
}

/// <summary>Reading refusals: the status, <c>application/problem+json</c>, and the body.</summary>
public static class AccessProblems
{
    public static async Task<JsonElement> ReadAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"expected {(int)expected}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(text).RootElement.Clone();
        Assert.Equal((int)expected, problem.GetProperty("status").GetInt32());
        return problem;
    }
}
