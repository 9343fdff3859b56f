using System.Net;
using FuseDream.Tests.Api;
using FuseDream.Tests.Support;

namespace FuseDream.Tests.Operations;

/// <summary>
/// <c>/metrics</c> of the API, scraped over real HTTP before and after a real generation (the
/// FuseDream pipeline on the fixture models): the counters and histograms of that generation
/// moved by exactly one (the API host has its own registry), the gauges read the database, and
/// the process and framework metrics are there.
/// </summary>
public class MetricsTests(MetricsTests.Factory factory) : IClassFixture<MetricsTests.Factory>
{
    public sealed class Factory : FixtureModelServiceFactory;

    internal static async Task<PrometheusText> ScrapeAsync(HttpClient client)
    {
        using var response = await client.GetAsync("/metrics");
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"/metrics: {(int)response.StatusCode} {text}");
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType?.MediaType);
        return new PrometheusText(text);
    }

    [Fact]
    public async Task RealGeneration_MovesTheCountersAndHistograms_AndTheGaugesReadTheDatabase()
    {
        using var client = ServiceHttp.Client(factory);
        var before = await ScrapeAsync(client);

        var created = await client.PostAsync(new
        {
            prompt = "a counted lighthouse",
            model = "biggan-256",
            seed = 5,
            preset = "fast",
            options = new { basisIterations = 1, samplesPerIteration = 2, topK = 1, steps = 3, augmentations = 1, scoreEvery = 1, finalAugmentations = 1 },
        });
        var done = await client.WaitAsync(created.Id(), timeout: TimeSpan.FromMinutes(3));
        Assert.True(done.Status() == "succeeded", done.ToString());
        var score = done.GetProperty("result").GetProperty("augClipScore").GetDouble();

        var after = await ScrapeAsync(client);
        double Delta(string name, params (string, string)[] labels) => after.Value(name, labels) - before.Value(name, labels);

        Assert.Equal(1, Delta("fusedream_generations_submitted_total", ("model", "biggan-256")));
        Assert.Equal(1, Delta("fusedream_generations_finished_total", ("model", "biggan-256"), ("outcome", "succeeded")));
        Assert.Equal(0, Delta("fusedream_generations_finished_total", ("outcome", "failed")));
        Assert.Equal(1, Delta("fusedream_generation_duration_seconds_count", ("outcome", "succeeded")));
        Assert.True(Delta("fusedream_generation_duration_seconds_sum", ("outcome", "succeeded")) > 0);
        foreach (var phase in new[] { "queued", "loading", "basis_search", "optimizing", "scoring", "storing" })
            Assert.True(Delta("fusedream_generation_phase_seconds_count", ("phase", phase)) == 1, $"phase {phase} was not recorded once:\n{after.Text}");
        Assert.Equal(1, Delta("fusedream_optimization_step_seconds_count"));
        Assert.True(Delta("fusedream_optimization_step_seconds_sum") > 0);
        Assert.Equal(1, Delta("fusedream_basis_sample_seconds_count"));
        Assert.Equal(1, Delta("fusedream_generation_augclip_score_count"));
        Assert.Equal(score, Delta("fusedream_generation_augclip_score_sum"), 6);
        // The histogram's buckets are cumulative: +Inf holds the one observation.
        Assert.Equal(1, Delta("fusedream_generation_augclip_score_bucket", ("le", "+Inf")));

        // Gauges read from PostgreSQL at the scrape: this database holds this class's generations only.
        Assert.True(after.Value("fusedream_generations", ("status", "succeeded")) >= 1);
        Assert.Equal(0, after.Value("fusedream_generations", ("status", "running")));
        Assert.True(after.Has("fusedream_generations") && after.Value("fusedream_generations", ("status", "queued")) >= 0);
        Assert.Equal(1, after.Value("fusedream_workers_live"));
        Assert.True(after.Value("fusedream_worker_heartbeats_total") >= 1);

        // The process's and the framework's own metrics.
        Assert.True(after.Value("process_working_set_bytes") > 0);
        Assert.True(after.Value("dotnet_total_memory_bytes") > 0);
        var http = after.Names.Where(n => n.Contains("http_server_request_duration", StringComparison.Ordinal) && n.EndsWith("_count", StringComparison.Ordinal)).ToList();
        Assert.True(http.Count > 0, $"no ASP.NET Core request-duration metric in:\n{string.Join('\n', after.Names)}");
        Assert.True(http.Sum(n => after.Value(n)) > http.Sum(n => before.Value(n)), "the requests of this test were not counted");
    }
}

/// <summary><c>Metrics:Key</c>: a scrape without the key is refused with problem details; with it, answered.</summary>
public class MetricsKeyTests(MetricsKeyTests.Factory factory) : IClassFixture<MetricsKeyTests.Factory>
{
    public const string Key = "a-metrics-key-for-the-scraper";

    public sealed class Factory : ServiceFactory
    {
        protected override IEnumerable<(string Key, string Value)> ExtraSettings => [("Metrics:Key", MetricsKeyTests.Key)];
    }

    [Fact]
    public async Task WithAKeyConfigured_AScrapeNeedsIt()
    {
        using var client = ServiceHttp.Client(factory.Address);
        using var refused = await client.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        Assert.Contains("Metrics:Key", await refused.Content.ReadAsStringAsync());

        using var wrong = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        wrong.Headers.Authorization = new("Bearer", Key + "x");
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.SendAsync(wrong)).StatusCode);

        using var right = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        right.Headers.Authorization = new("Bearer", Key);
        using var answered = await client.SendAsync(right);
        Assert.Equal(HttpStatusCode.OK, answered.StatusCode);
        Assert.Contains("fusedream_generations_submitted_total", await answered.Content.ReadAsStringAsync());
    }
}
