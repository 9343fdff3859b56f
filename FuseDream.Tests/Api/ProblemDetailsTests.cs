using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace FuseDream.Tests.Api;

/// <summary>Every answer outside 2xx is <c>application/problem+json</c> whose status matches the response, whatever the route or the client's Accept header.</summary>
public class ProblemDetailsTests(ProblemDetailsTests.Factory factory) : IClassFixture<ProblemDetailsTests.Factory>
{
    /// <summary>No worker, and one required: readiness answers 503.</summary>
    public sealed class Factory : ServiceFactory
    {
        protected override bool InProcessWorker => false;

        protected override bool RequireWorker => true;
    }

    public static TheoryData<string, string, string?, string?, int> Requests => new()
    {
        // method, url, body content type, Accept, expected status
        { "GET", "/no/such/route", null, null, 404 },
        { "GET", "/no/such/route", null, "image/png", 404 },
        { "GET", "/v1/generations/not-a-guid", null, null, 404 },
        { "GET", "/v1/generations/00000000-0000-0000-0000-000000000001", null, null, 404 },
        { "GET", "/v1/generations/00000000-0000-0000-0000-000000000001/image", null, "image/png", 404 },
        { "GET", "/v1/generations/00000000-0000-0000-0000-000000000001/trace", null, "text/csv", 404 },
        { "GET", "/v1/generations/00000000-0000-0000-0000-000000000001/previews/3", null, "image/png", 404 },
        { "GET", "/v1/generations/00000000-0000-0000-0000-000000000001/previews/x", null, "image/png", 404 },
        { "GET", "/v1/generations/00000000-0000-0000-0000-000000000001/cancel", null, null, 405 },
        { "DELETE", "/v1/generations", null, null, 405 },
        { "PUT", "/v1/generations", null, "text/csv", 405 },
        { "GET", "/v1/generations?limit=abc", null, null, 400 },
        { "GET", "/v1/generations?limit=0", null, null, 400 },
        { "POST", "/v1/generations", "text/plain", null, 415 },
        { "POST", "/v1/generations", "text/plain", "image/png", 415 },
        { "POST", "/v1/generations", "application/json", "text/html", 400 },
        { "POST", "/v1/generations/00000000-0000-0000-0000-000000000001/cancel", null, null, 404 },
        { "GET", "/health/ready", null, null, 503 },
        { "GET", "/health/ready", null, "text/plain", 503 },
    };

    [Theory]
    [MemberData(nameof(Requests))]
    public async Task NonSuccess_IsProblemJson_WithItsStatus(string method, string url, string? contentType, string? accept, int status)
    {
        using var client = factory.CreateClient();
        using var request = new HttpRequestMessage(new HttpMethod(method), url);
        if (contentType is not null) request.Content = new StringContent("{\"prompt\":\"\"}", Encoding.UTF8, contentType);
        if (accept is not null) request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(accept));
        using var response = await client.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == status, $"{method} {url}: expected {status}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(body);
        Assert.Equal(status, problem.RootElement.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrWhiteSpace(problem.RootElement.GetProperty("title").GetString()), body);
    }
}
