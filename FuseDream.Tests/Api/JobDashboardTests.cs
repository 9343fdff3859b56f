using System.Net;
using FuseDream.Access;

namespace FuseDream.Tests.Api;

/// <summary>The Hangfire dashboard: only an admin key's session opens it, read-only by default, closed again when the key is revoked.</summary>
public class JobDashboardTests(JobDashboardTests.Factory factory) : IClassFixture<JobDashboardTests.Factory>
{
    public sealed class Factory : ServiceFactory
    {
        protected override bool InProcessWorker => false;
    }

    [Fact]
    public async Task WithoutASession_TheDashboardIs401()
    {
        using var client = factory.CreateClient(); // a Bearer key is not a dashboard session
        using var response = await client.GetAsync("/hangfire");
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task AKeyWithoutAdmin_Is403_ForASession()
    {
        var key = await factory.CreateKeyAsync([ApiKeyScopes.Generate, ApiKeyScopes.Read]);
        using var client = factory.CreateClientWithKey(key.Token);
        using var response = await client.PostAsync("/v1/dashboard-session", null);
        var problem = await AccessProblems.ReadAsync(response, HttpStatusCode.Forbidden);
        Assert.Contains("'admin'", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnAdminSession_OpensTheDashboardReadOnly_UntilTheKeyIsRevoked()
    {
        var admin = await factory.CreateKeyAsync([ApiKeyScopes.Admin], "dashboard admin");
        using var keyed = factory.CreateClientWithKey(admin.Token);
        using var session = await keyed.PostAsync("/v1/dashboard-session", null);
        Assert.Equal(HttpStatusCode.NoContent, session.StatusCode);
        var setCookie = Assert.Single(session.Headers.GetValues("Set-Cookie"));
        Assert.StartsWith("fusedream_dashboard=", setCookie, StringComparison.Ordinal);
        foreach (var attribute in new[] { "httponly", "samesite=strict", "secure", "path=/hangfire" })
            Assert.Contains(attribute, setCookie, StringComparison.OrdinalIgnoreCase);
        var cookie = setCookie.Split(';')[0];

        using var browser = factory.CreateAnonymousClient();
        browser.DefaultRequestHeaders.Add("Cookie", cookie);
        using (var page = await browser.GetAsync("/hangfire"))
        {
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            var html = await page.Content.ReadAsStringAsync();
            Assert.Contains("Hangfire", html, StringComparison.Ordinal);
        }
        // Read-only: a command (here: delete a job) is refused.
        using (var command = await browser.PostAsync("/hangfire/jobs/enqueued/delete", new FormUrlEncodedContent([new("jobs[]", "1")])))
            Assert.NotEqual(HttpStatusCode.OK, command.StatusCode);

        await factory.Keys.RevokeAsync(admin.Key.Id, CancellationToken.None);
        using var closed = await browser.GetAsync("/hangfire");
        Assert.Equal(HttpStatusCode.Unauthorized, closed.StatusCode);
    }
}
