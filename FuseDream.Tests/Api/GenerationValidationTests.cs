using System.Net;
using System.Text;
using System.Text.Json;
using FuseDream.Api.Apis;
using FuseDream.Tests.Support;

namespace FuseDream.Tests.Api;

public class GenerationValidationTests(GenerationValidationTests.Factory factory) : IClassFixture<GenerationValidationTests.Factory>
{
    public sealed class Factory : ServiceFactory;

    private static readonly string LongPrompt = string.Join(' ', Enumerable.Repeat("word", 80));

    public static TheoryData<string, string, string> InvalidBodies => new()
    {
        { """{"model":"biggan-256"}""", "prompt", "required" },
        { """{"prompt":"   ","model":"biggan-256"}""", "prompt", "empty" },
        { $$"""{"prompt":"{{LongPrompt}}","model":"biggan-256"}""", "prompt", "82 CLIP tokens" },
        { "{\"prompt\":\"" + new string('a', 2001) + "\",\"model\":\"biggan-256\"}", "prompt", "is 2001 characters long" },
        { """{"prompt":"a dog"}""", "model", "required" },
        { """{"prompt":"a dog","model":"biggan-1024"}""", "model", "unknown model 'biggan-1024'" },
        { """{"prompt":"a dog","model":"biggan-256","preset":"slow"}""", "preset", "unknown preset 'slow'" },
        { """{"prompt":"a dog","model":"biggan-256","seed":-1}""", "seed", "between 0" },
        { """{"prompt":"a dog","model":"biggan-256","options":{"steps":10001}}""", "options.steps", "between 0 and 10000 (got 10001)" },
        { """{"prompt":"a dog","model":"biggan-256","options":{"topK":0}}""", "options.topK", "between 1 and 64" },
        { """{"prompt":"a dog","model":"biggan-256","options":{"augmentations":257}}""", "options.augmentations", "between 1 and 256" },
        { """{"prompt":"a dog","model":"biggan-256","options":{"learningRate":2.0}}""", "options.learningRate", "between" },
        { """{"prompt":"a dog","model":"biggan-256","options":{"basisIterations":0}}""", "options.basisIterations", "between 1 and 10000" },
        { """{"prompt":"a dog","model":"biggan-256","options":{"samplesPerIteration":300}}""", "options.samplesPerIteration", "between 1 and 256" },
        { """{"prompt":"a dog","model":"biggan-256","previewEvery":-5}""", "previewEvery", "between 0 and 10000" },
        { """{"prompt":"a dog","model":"biggan-256","options":{"init":"blur"}}""", "options.init", "unknown start 'blur'; allowed: paper, best" },
        { """{"prompt":"a dog","model":"biggan-256","options":{"patience":1001}}""", "options.patience", "between 0 and 1000 (got 1001)" },
        { """{"prompt":"a dog","model":"biggan-256","options":{"patience":3,"scoreEvery":0}}""", "options.patience", "set ScoreEvery above 0" },
        { """{"prompt":"a dog","model":"biggan-256","options":{"minImprovement":-0.1}}""", "options.minImprovement", "between 0 and 1" },
        { """{"prompt":"a dog","model":"biggan-256","options":{"keepBest":"yes"}}""", "options.keepBest", "must be" },
        { """{"prompt":"a dog","model":"biggan-256","options":{"steps":"many"}}""", "options.steps", "must be an integer" },
        { """{"prompt":"a dog","model":"biggan-256","options":{"stepz":5}}""", "options.stepz", "not a known field" },
        { """{"prompt":"a dog","model":"biggan-256","colour":"red"}""", "colour", "not a known field" },
        { """{"prompt":"a dog", """, "body", "not valid JSON" },
        { """{"model":"biggan-256","prompts":[]}""", "prompts", "must list 1 to 8" },
        { """{"prompt":"a dog","model":"biggan-256","prompts":[{"text":"a cat","weight":1}]}""", "prompts", "not both" },
        { """{"model":"biggan-256","prompts":[{"text":"a dog","weight":-1}]}""", "prompts", "at least one prompt with a positive weight" },
        { """{"model":"biggan-256","prompts":[{"text":"a dog","weight":1},{"text":"a cat","weight":0}]}""", "prompts[1].weight", "not 0 (got 0)" },
        { """{"model":"biggan-256","prompts":[{"text":"a dog","weight":12}]}""", "prompts[0].weight", "between -10 and 10" },
        { """{"model":"biggan-256","prompts":[{"text":"a dog"},{"weight":-1}]}""", "prompts[1].text", "required" },
        { """{"model":"biggan-256","prompts":[null]}""", "prompts[0]", "must be an object" },
        { """{"model":"biggan-256","prompts":[{"text":"a dog","weight":"heavy"}]}""", "prompts[0].weight", "must be a number" },
        { """{"model":"biggan-256","prompts":"a dog"}""", "prompts", "must be a JSON array" },
        { """{"model":"biggan-256","prompts":[{"text":"a dog","colour":"red"}]}""", "prompts[0].colour", "known fields here: text, weight" },
        { $$"""{"model":"biggan-256","prompts":[{"text":"a dog"},{"text":"{{LongPrompt}}","weight":-1}]}""", "prompts[1].text", "82 CLIP tokens" },
        { """{"prompt":"a dog","model":"biggan-256","clips":[]}""", "clips", "1 to 3 CLIP models" },
        { """{"prompt":"a dog","model":"biggan-256","clips":[{"model":"clip-vit-b-32","weight":0}]}""", "clips[0].weight", "above 0" },
        { """{"prompt":"a dog","model":"biggan-256","clips":[{"weight":1}]}""", "clips[0].model", "required" },
        { """{"prompt":"a dog","model":"biggan-256","clips":[{"model":"clip-vit-b-32"},{"model":"clip-vit-b-32"}]}""", "clips[1].model", "twice" },
        { """{"prompt":"a dog","model":"biggan-256","clips":[{"model":"clip-vit-b-32","size":1}]}""", "clips[0].size", "known fields here: model, weight" },
        { """{"prompt":"a scene","model":"biggan-256","prompts":[{"text":"a dog"}],"components":[{"prompt":"a moon"},{"prompt":"a dog"}]}""", "components", "cannot be combined with 'prompts'" },
        { """{"prompt":"a scene","model":"biggan-256","components":[{"prompt":"a moon"}]}""", "components", "2 to 4 components" },
        { """{"prompt":"a scene","model":"biggan-256","components":[null,{"prompt":"a dog"}]}""", "components[0]", "missing" },
        { """{"prompt":"a scene","model":"biggan-256","components":[{"prompt":"a"},{"prompt":"b"},{"prompt":"c"},{"prompt":"d"},{"prompt":"e"}]}""", "components", "(got 5)" },
        { """{"prompt":"a scene","model":"biggan-256","components":[{"prompt":"a moon"},{"prompt":"a dog","box":[0.2,0.2,1.5,0.9]}]}""", "components[1].box", "within [0, 1]" },
        { """{"prompt":"a scene","model":"biggan-256","components":[{"prompt":"a moon"},{"prompt":"a dog","box":[0.5,0.2,0.5,0.9]}]}""", "components[1].box", "positive area" },
        { """{"prompt":"a scene","model":"biggan-256","components":[{"prompt":"a moon"},{"prompt":"a dog","box":[0.5,0.2,0.9]}]}""", "components[1].box", "must be [x0, y0, x1, y1]" },
        { """{"prompt":"a scene","model":"biggan-256","components":[{"prompt":"a moon"},{"prompt":"a dog","box":"left"}]}""", "components[1].box", "must be a JSON array" },
        { """{"prompt":"a scene","model":"biggan-256","components":[{"prompt":"a moon","feather":0.7},{"prompt":"a dog"}]}""", "components[0].feather", "between 0 and 0.5" },
        { """{"prompt":"a scene","model":"biggan-256","components":[{"prompt":"a moon"},{"box":[0,0,1,1]}]}""", "components[1].prompt", "required" },
        { $$"""{"prompt":"a scene","model":"biggan-256","components":[{"prompt":"a moon"},{"prompt":"{{LongPrompt}}"}]}""", "components[1].prompt", "82 CLIP tokens" },
        { """{"prompt":"a scene","model":"biggan-256","components":[{"prompt":"a moon","colour":"grey"},{"prompt":"a dog"}]}""", "components[0].colour", "known fields here: prompt, box, feather" },
        { """{"prompt":"a scene","model":"biggan-256","components":[{"prompt":"a moon"},{"prompt":"a dog"}],"composition":{"innerSteps":11}}""", "composition.innerSteps", "between 1 and 10 (got 11)" },
        { """{"prompt":"a scene","model":"biggan-256","components":[{"prompt":"a moon"},{"prompt":"a dog"}],"composition":{"pixelWeight":0,"featureWeight":0}}""", "composition.featureWeight", "cannot both be 0" },
        { """{"prompt":"a scene","model":"biggan-256","components":[{"prompt":"a moon"},{"prompt":"a dog"}],"composition":{"k":2}}""", "composition.k", "known fields here: innerSteps" },
        { """{"prompt":"a scene","model":"biggan-256","components":[{"prompt":"a moon"},{"prompt":"a dog"}],"preset":"slow"}""", "preset", "unknown preset 'slow'" },
        { """{"prompt":"a scene","model":"biggan-256","components":[{"prompt":"a moon"},{"prompt":"a dog"}],"clips":[{"model":"clip-vit-b-32"}]}""", "clips", "cannot be combined with 'components'" },
        { """{"prompt":"a dog","model":"biggan-256","composition":{"fusionSteps":4}}""", "composition", "needs 'components'" },
        { """{"model":"biggan-256","components":[{"prompt":"a moon"},{"prompt":"a dog"}]}""", "prompt", "required" },
        { """{"model":"biggan-256","prompts":[{"text":"a","weight":1},{"text":"b","weight":1},{"text":"c","weight":1},{"text":"d","weight":1},{"text":"e","weight":1},{"text":"f","weight":1},{"text":"g","weight":1},{"text":"h","weight":1},{"text":"i","weight":1}]}""", "prompts", "at most 8 prompts (got 9)" },
    };

    [Theory]
    [MemberData(nameof(InvalidBodies))]
    public async Task InvalidRequest_Is400NamingTheField_AndNothingIsStoredOrEnqueued(string body, string field, string reason)
    {
        using var client = factory.CreateClient();
        var before = await factory.Probe.MarkAsync();
        using var response = await client.PostAsync("/v1/generations", new StringContent(body, Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var errors = JsonDocument.Parse(text).RootElement.GetProperty("errors");
        Assert.True(errors.TryGetProperty(field, out var messages), $"no error for '{field}' in {text}");
        Assert.Contains(messages.EnumerateArray(), m => m.GetString()!.Contains(reason, StringComparison.Ordinal));
        await AssertNothingStoredSinceAsync(before);
    }

    [Fact]
    public async Task EveryOptionAtItsMaximum_Is400_NamingTheCostTheLimitAndHowToLowerIt()
    {
        // A key without admin: an admin key may pass the cost limit.
        var key = await factory.CreateKeyAsync([FuseDream.Access.ApiKeyScopes.Generate, FuseDream.Access.ApiKeyScopes.Read]);
        using var client = factory.CreateClientWithKey(key.Token);
        var before = await factory.Probe.MarkAsync();
        const string body = """{"prompt":"a dog","model":"biggan-256","options":{"basisIterations":10000,"samplesPerIteration":256,"steps":10000,"augmentations":256,"scoreEvery":1,"finalAugmentations":1024}}""";
        using var response = await client.PostAsync("/v1/generations", new StringContent(body, Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var message = Assert.Single(JsonDocument.Parse(text).RootElement.GetProperty("errors").GetProperty("options").EnumerateArray()).GetString()!;
        // 2,560,000 basis samples + 2,560,000 step evaluations + 10,000 traces × 256 + 2 × 1024.
        Assert.StartsWith("costs 7,682,048 CLIP image evaluations, over this service's limit of 100,000 (Generation:MaxClipEvaluations).", message);
        Assert.Contains("lower steps, augmentations, basisIterations or samplesPerIteration", message);
        await AssertNothingStoredSinceAsync(before);
    }

    [Fact]
    public async Task AComposedRunOverTheCostLimit_Is400_NamingTheCostAndTheFusionOptionsToLower()
    {
        var key = await factory.CreateKeyAsync([FuseDream.Access.ApiKeyScopes.Generate, FuseDream.Access.ApiKeyScopes.Read]);
        using var client = factory.CreateClientWithKey(key.Token);
        var before = await factory.Probe.MarkAsync();
        // Within every range, but 10,000 outer steps of 256 augmentations for 3 components.
        const string body = """{"prompt":"a scene","model":"biggan-256","preset":"fast","components":[{"prompt":"a moon"},{"prompt":"a dog"},{"prompt":"a cat"}],"composition":{"fusionSteps":10000,"fusionAugmentations":256}}""";
        using var response = await client.PostAsync("/v1/generations", new StringContent(body, Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var message = Assert.Single(JsonDocument.Parse(text).RootElement.GetProperty("errors").GetProperty("options").EnumerateArray()).GetString()!;
        Assert.Matches(@"^costs [\d,]+ CLIP image evaluations, over this service's limit of 100,000 \(Generation:MaxClipEvaluations\)\.", message);
        Assert.Contains("fusionSteps", message);
        Assert.Contains("fast, with 3 components", message);
        await AssertNothingStoredSinceAsync(before);

        // The same scene at the fast preset's own fusion passes the same limit.
        var accepted = await client.PostAsync(new
        {
            prompt = "a scene", model = "biggan-256", preset = "fast",
            components = new object[] { new { prompt = "a moon" }, new { prompt = "a dog" }, new { prompt = "a cat" } },
        });
        Assert.Equal(3, accepted.GetProperty("components").GetArrayLength());
    }

    [Fact]
    public async Task ComponentsAndComposite_OfASinglePromptGeneration_Are404Problems()
    {
        using var client = factory.CreateClient();
        var created = await client.PostAsync(new { prompt = "a dog", model = "biggan-256", preset = "fast" });
        var done = await client.WaitAsync(created.Id());
        Assert.Equal("succeeded", done.Status());
        Assert.False(done.GetProperty("links").TryGetProperty("composite", out var composite) && composite.ValueKind != JsonValueKind.Null);
        foreach (var path in new[] { "components/0", "composite" })
        {
            using var response = await client.GetAsync($"/v1/generations/{created.Id()}/{path}");
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.Contains("Not a composed generation.", await response.Content.ReadAsStringAsync());
        }
        using var unknown = await client.GetAsync($"/v1/generations/{Guid.NewGuid()}/components/0");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Contains("No such generation.", await unknown.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task ThePaperPreset_IsUnderTheDefaultLimit()
    {
        using var client = factory.CreateClient();
        var created = await client.PostAsync(new { prompt = "a dog", model = "biggan-256", preset = "paper" }); // asserts 202
        Assert.Equal("paper", created.GetProperty("preset").GetString());
        await client.PostAsync($"/v1/generations/{created.Id()}/cancel", null);
    }

    [Fact]
    public async Task PromptTooLong_SaysHowManyClipTokens_CountedByTheBpeTokenizer()
    {
        using var client = factory.CreateClient();
        // 20 words, but each is many BPE tokens: the limit is about tokens, not words.
        var prompt = string.Join(' ', Enumerable.Repeat("supercalifragilisticexpialidocious", 20));
        var expected = FuseDream.Text.ClipTokenizer.Default.CountTokens(prompt);
        Assert.True(expected > 77);
        var before = await factory.Probe.MarkAsync();
        var problem = await client.PostAsync(new { prompt, model = "biggan-256" }, expected: HttpStatusCode.BadRequest);
        var message = Assert.Single(problem.GetProperty("errors").GetProperty("prompt").EnumerateArray()).GetString();
        Assert.Contains($"is {expected} CLIP tokens", message);
        await AssertNothingStoredSinceAsync(before);
    }

    [Fact]
    public async Task OversizedBody_Is413ProblemDetails_NamingTheLimit_WithOrWithoutContentLength()
    {
        using var client = factory.CreateClient();
        var before = await factory.Probe.MarkAsync();
        // Valid JSON, mostly whitespace: only its size is wrong.
        var body = "{\"prompt\":\"a dog\",\"model\":\"biggan-256\"" + new string(' ', GenerationsApi.MaxRequestBodyBytes) + "}";
        foreach (var chunked in new[] { false, true })
        {
            using var content = new StringContent(body, Encoding.UTF8, "application/json");
            if (chunked) content.Headers.ContentLength = null;
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/generations") { Content = content };
            request.Headers.TransferEncodingChunked = chunked;
            using var response = await client.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.RequestEntityTooLarge, $"chunked={chunked}: {(int)response.StatusCode} {text}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.Contains("65536 bytes", JsonDocument.Parse(text).RootElement.GetProperty("detail").GetString());
        }
        await AssertNothingStoredSinceAsync(before);
    }

    [Fact]
    public void Validate_CountsTokensOnlyOnceTheCheaperChecksPass()
    {
        var counter = new CountingTokenCounter();
        var reader = new GenerationRequestReader(counter, Microsoft.Extensions.Options.Options.Create(new FuseDream.Generation.GenerationLimits()));
        var prompt = string.Join(' ', Enumerable.Repeat("word", 80));
        var (refused, errors) = reader.Validate(new CreateGenerationRequest { Prompt = prompt, Model = "biggan-1024" });
        Assert.Null(refused);
        Assert.Equal(["model"], errors!.Keys);
        Assert.Equal(0, counter.Calls);
        var (_, tokenErrors) = reader.Validate(new CreateGenerationRequest { Prompt = prompt, Model = "biggan-256" });
        Assert.Contains("82 CLIP tokens", Assert.Single(tokenErrors!["prompt"]));
        Assert.Equal(1, counter.Calls);
    }

    /// <summary>CLIP's own count, and how often it was asked.</summary>
    private sealed class CountingTokenCounter : FuseDream.Text.IPromptTokenCounter
    {
        public int Calls { get; private set; }

        public int CountTokens(string prompt)
        {
            Calls++;
            return FuseDream.Text.ClipTokenizer.Default.CountTokens(prompt);
        }
    }

    [Fact]
    public async Task EveryInvalidField_IsReportedAtOnce()
    {
        using var client = factory.CreateClient();
        var before = await factory.Probe.MarkAsync();
        var problem = await client.PostAsync(new { prompt = "", model = "x", options = new { steps = -1, topK = 100 } }, expected: HttpStatusCode.BadRequest);
        var fields = problem.GetProperty("errors").EnumerateObject().Select(p => p.Name).ToHashSet();
        Assert.Superset(new HashSet<string> { "prompt", "model", "options.steps", "options.topK" }, fields);
        await AssertNothingStoredSinceAsync(before);
    }

    [Fact]
    public async Task NonJsonBody_Is415ProblemDetails()
    {
        using var client = factory.CreateClient();
        var before = await factory.Probe.MarkAsync();
        using var response = await client.PostAsync("/v1/generations", new StringContent("prompt=a dog", Encoding.UTF8, "text/plain"));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        await AssertNothingStoredSinceAsync(before);
    }

    [Fact]
    public async Task OverlongIdempotencyKey_Is400()
    {
        using var client = factory.CreateClient();
        var before = await factory.Probe.MarkAsync();
        var problem = await client.PostAsync(GenerationClient.Quick("a dog"), new string('k', 201), HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty("Idempotency-Key", out _));
        await AssertNothingStoredSinceAsync(before);
    }

    [Fact]
    public async Task PromptOf77Tokens_IsAccepted()
    {
        using var client = factory.CreateClient();
        // 75 words + start + end = 77 tokens: exactly the limit.
        var prompt = string.Join(' ', Enumerable.Repeat("cat", 75));
        var before = await factory.Probe.MarkAsync();
        var created = await client.PostAsync(GenerationClient.Quick(prompt, steps: 1));
        Assert.Equal("succeeded", (await client.WaitAsync(created.Id())).Status());
        // The same yardstick the rejections use sees this one row and its job.
        Assert.Equal((1L, 1L), await factory.Probe.AddedSinceAsync(before));
        Assert.Equal(1L, await factory.Probe.JobsOfAsync(created.Id()));
    }

    /// <summary>
    /// No generation and no job appeared since <paramref name="before"/>. Counted from a mark,
    /// not as empty tables: the other tests of this class share the database, and one of them
    /// stores a generation; this holds whatever ran before.
    /// </summary>
    private async Task AssertNothingStoredSinceAsync(GenerationProbe.Mark before) =>
        Assert.Equal((0L, 0L), await factory.Probe.AddedSinceAsync(before));
}
