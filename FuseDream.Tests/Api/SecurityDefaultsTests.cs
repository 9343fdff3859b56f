using System.Net;

namespace FuseDream.Tests.Api;

/// <summary>Outside Development (the test host's environment is <c>Testing</c>) with <c>Api:Swagger</c> unset.</summary>
public class SecurityDefaultsTests(SecurityDefaultsTests.Factory factory) : IClassFixture<SecurityDefaultsTests.Factory>
{
    public sealed class Factory : ServiceFactory
    {
        protected override string? SwaggerSetting => null;
        protected override bool InProcessWorker => false;
    }

    [Theory]
    [InlineData("/swagger/v1/swagger.json")]
    [InlineData("/swagger/index.html")]
    [InlineData("/swagger")]
    public async Task Swagger_IsNotServed_OutsideDevelopment_UnlessEnabled(string path)
    {
        using var client = factory.CreateClient(new() { AllowAutoRedirect = false, BaseAddress = factory.Address });
        using var response = await client.GetAsync(path);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Theory]
    [InlineData("/health/live", HttpStatusCode.OK)]
    [InlineData("/v1/generations", HttpStatusCode.OK)]
    [InlineData("/v1/generations/00000000-0000-0000-0000-000000000000", HttpStatusCode.NotFound)]
    [InlineData("/no-such-route", HttpStatusCode.NotFound)]
    public async Task EveryAnswer_CarriesTheSecurityHeaders_AndALockedDownPolicy(string path, HttpStatusCode expected)
    {
        using var client = factory.CreateClient();
        using var response = await client.GetAsync(path);
        Assert.Equal(expected, response.StatusCode);
        Assert.Equal("nosniff", Assert.Single(response.Headers.GetValues("X-Content-Type-Options")));
        Assert.Equal("no-referrer", Assert.Single(response.Headers.GetValues("Referrer-Policy")));
        var csp = Assert.Single(response.Headers.GetValues("Content-Security-Policy"));
        Assert.StartsWith("default-src 'none'", csp);
        Assert.Contains("frame-ancestors 'none'", csp);
        Assert.DoesNotContain("script-src", csp);
    }

    [Fact]
    public async Task Hsts_IsNotSentOverPlainHttp()
    {
        // UseHsts is on here (not Development), but HSTS over HTTP would be ignored by browsers
        // and would pin clients that reach the API through a TLS-ending proxy on another name.
        using var client = factory.CreateClient();
        using var response = await client.GetAsync("/health/live");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.False(response.Headers.Contains("Strict-Transport-Security"));
    }
}

/// <summary>Swagger switched on by <c>Api:Swagger=true</c> outside Development.</summary>
public class SwaggerEnabledTests(SwaggerEnabledTests.Factory factory) : IClassFixture<SwaggerEnabledTests.Factory>
{
    public sealed class Factory : ServiceFactory
    {
        protected override bool InProcessWorker => false;
    }

    [Fact]
    public async Task SwaggerUi_IsServed_WithAPolicyThatLetsItRun()
    {
        using var client = factory.CreateClient();
        using var page = await client.GetAsync("/swagger/index.html");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        var policy = Assert.Single(page.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("script-src 'self'", policy);
        Assert.Contains("style-src 'self'", policy);
        Assert.Contains("connect-src 'self'", policy);
        Assert.Equal("nosniff", Assert.Single(page.Headers.GetValues("X-Content-Type-Options")));
        // Every script and stylesheet the page loads comes from this origin, as the policy requires.
        var html = await page.Content.ReadAsStringAsync();
        foreach (var src in System.Text.RegularExpressions.Regex.Matches(html, "(?:src|href)=\"([^\"]+)\"").Select(m => m.Groups[1].Value))
            Assert.False(src.Contains("://", StringComparison.Ordinal), $"Swagger UI loads {src} from another origin");
        using var json = await client.GetAsync("/swagger/v1/swagger.json");
        Assert.Equal(HttpStatusCode.OK, json.StatusCode);
        using var api = await client.GetAsync("/health/live");
        Assert.StartsWith("default-src 'none'", Assert.Single(api.Headers.GetValues("Content-Security-Policy")));
    }
}
