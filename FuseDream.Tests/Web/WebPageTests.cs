using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using FuseDream.Api.Hosting;
using FuseDream.Generation;
using FuseDream.Tests.Api;
using SixLabors.ImageSharp;

namespace FuseDream.Tests.Web;

/// <summary>What the web page stands on, over HTTP: the page and its files with their own CSP, the option ranges it reads, the trace plot it offers.</summary>
public class WebPageTests(WebPageTests.Factory factory) : IClassFixture<WebPageTests.Factory>
{
    public sealed class Factory : ServiceFactory;

    [Theory]
    [InlineData("/", "text/html")]
    [InlineData("/app/main.js", "text/javascript")]
    [InlineData("/app/style.css", "text/css")]
    [InlineData("/vendor/uplot/uPlot.iife.min.js", "text/javascript")]
    [InlineData("/vendor/uplot/uPlot.min.css", "text/css")]
    public async Task PageFiles_AreServedWithoutAKey_UnderThePagePolicy(string path, string mediaType)
    {
        using var client = factory.CreateAnonymousClient();
        using var response = await client.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(mediaType, response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(SecurityHeaders.PagePolicy, string.Join(";", response.Headers.GetValues("Content-Security-Policy")));
        Assert.DoesNotContain("unsafe-inline", SecurityHeaders.PagePolicy);
    }

    [Fact]
    public async Task Page_HasNoInlineScript_AndTheApiKeepsItsClosedPolicy()
    {
        using var client = factory.CreateClient();
        var html = await client.GetStringAsync("/");
        Assert.DoesNotMatch(@"<script(?![^>]*\bsrc=)[^>]*>", html);
        Assert.DoesNotMatch(@"<[^>]+\son[a-z]+\s*=", html);   // no inline event handlers
        Assert.DoesNotMatch(@"<[^>]+\sstyle\s*=", html);       // no inline styles
        Assert.DoesNotContain("//cdn", html);
        using var api = await client.GetAsync("/v1/options");
        Assert.Equal(SecurityHeaders.ApiPolicy, string.Join(";", api.Headers.GetValues("Content-Security-Policy")));
        using var swagger = await client.GetAsync("/swagger/index.html");
        Assert.Equal(HttpStatusCode.OK, swagger.StatusCode);
    }

    [Fact]
    public async Task Options_CarryTheRangesValidationUses_AndThePresets()
    {
        using var client = factory.CreateClient();
        var options = await client.GetJsonAsync("/v1/options");
        var steps = options.GetProperty("ranges").GetProperty("steps");
        Assert.Equal(GenerationOptions.Limits.Steps.Min, steps.GetProperty("min").GetDouble());
        Assert.Equal(GenerationOptions.Limits.Steps.Max, steps.GetProperty("max").GetDouble());
        Assert.Equal("integer", steps.GetProperty("type").GetString());
        var rate = options.GetProperty("ranges").GetProperty("learningRate");
        Assert.Equal(GenerationOptions.Limits.LearningRate.Max, rate.GetProperty("max").GetDouble());
        Assert.Equal("number", rate.GetProperty("type").GetString());
        Assert.Equal(GenerationPresets.Fast.Steps, options.GetProperty("presets").GetProperty("fast").GetProperty("steps").GetInt32());
        Assert.Equal(GenerationOptions.Models.All, options.GetProperty("models").EnumerateArray().Select(m => m.GetString()!));

        // Just past a published maximum is refused by the API, naming the field.
        using var over = await client.PostAsJsonAsync("/v1/generations", new { prompt = "x", model = "biggan-256", options = new { steps = steps.GetProperty("max").GetInt32() + 1 } });
        Assert.Equal(HttpStatusCode.BadRequest, over.StatusCode);
        Assert.Contains("options.steps", await over.Content.ReadAsStringAsync());

        using var anonymous = factory.CreateAnonymousClient();
        using var refused = await anonymous.GetAsync("/v1/options");
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
    }

    [Fact]
    public async Task OpenApi_DescribesTheEventStream_AndTheTracePlot()
    {
        using var client = factory.CreateClient();
        var paths = (await client.GetJsonAsync("/swagger/v1/swagger.json")).GetProperty("paths");
        var events = paths.GetProperty("/v1/generations/{id}/events").GetProperty("get");
        Assert.True(events.GetProperty("responses").GetProperty("200").GetProperty("content").TryGetProperty("text/event-stream", out _), events.ToString());
        Assert.Contains("Last-Event-ID", events.GetProperty("description").GetString());
        var plot = paths.GetProperty("/v1/generations/{id}/trace.png").GetProperty("get");
        Assert.True(plot.GetProperty("responses").GetProperty("200").GetProperty("content").TryGetProperty("image/png", out _), plot.ToString());
        Assert.True(paths.TryGetProperty("/v1/options", out _));
    }

    [Fact]
    public async Task TracePlot_IsThePlotOfTheStoredTrace_OnceSucceeded()
    {
        using var client = factory.CreateClient();
        var id = (await client.PostAsync(GenerationClient.Quick("trace plot", steps: 8))).Id();
        await client.WaitAsync(id);
        using var response = await client.GetAsync($"/v1/generations/{id}/trace.png");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("image/png", response.Content.Headers.ContentType?.MediaType);
        var png = await response.Content.ReadAsByteArrayAsync();
        var trace = await client.GetJsonAsync($"/v1/generations/{id}/trace");
        var points = trace.GetProperty("points").Deserialize<List<TracePoint>>(GenerationClient.Json)!;
        Assert.Equal(8, points.Count);
        Assert.Equal(FuseDream.Imaging.TracePlot.Render(points, "trace plot"), png);
        Assert.Equal(FuseDream.Imaging.TracePlot.Width, Image.Identify(png).Width);

        var other = await factory.CreateKeyAsync([FuseDream.Access.ApiKeyScopes.Read]);
        using var stranger = factory.CreateClientWithKey(other.Token);
        using var hidden = await stranger.GetAsync($"/v1/generations/{id}/trace.png");
        Assert.Equal(HttpStatusCode.NotFound, hidden.StatusCode);
    }
}
