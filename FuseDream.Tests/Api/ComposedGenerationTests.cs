using System.Net;
using System.Text.Json;
using FuseDream.Composition;
using FuseDream.Generation;
using FuseDream.Tests.Support;
using Microsoft.AspNetCore.Hosting;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace FuseDream.Tests.Api;

/// <summary>
/// A composed generation through the whole service: HTTP, PostgreSQL, Hangfire and the real
/// <see cref="CompositionPipeline"/> on the tiny fixture models (random weights, CPU), with the
/// fewest basis samples and steps the validation allows.
/// </summary>
public class ComposedGenerationTests(ComposedGenerationTests.Factory factory) : IClassFixture<ComposedGenerationTests.Factory>
{
    public sealed class Factory : FixtureModelServiceFactory
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            // Progress webhooks to a receiver on 127.0.0.1, dispatched promptly.
            builder.UseSetting("Webhooks:AllowedHosts:0", "127.0.0.1");
            builder.UseSetting("Webhooks:DispatchInterval", "00:00:00.050");
        }
    }

    private const string Scene = "a dog on the moon";

    [Fact]
    public async Task Components_RunThroughTheQueue_ToAFusedImage_ComponentsAndComposite_WithProvenanceAndTrace()
    {
        using var client = factory.CreateClient();
        var created = await client.PostAsync(new
        {
            prompt = Scene,
            model = "biggan-256",
            seed = 7,
            preset = "fast",
            components = new object[]
            {
                new { prompt = "the surface of the moon" },
                new { prompt = "a dog", box = new[] { 0.25, 0.5, 0.75, 1.0 }, feather = 0.0 },
            },
            options = new { basisIterations = 1, samplesPerIteration = 2, topK = 1, steps = 1, augmentations = 1, scoreEvery = 1, finalAugmentations = 1 },
            composition = new { fusionSteps = 2, innerSteps = 1, warmupSteps = 0, fusionAugmentations = 1, fusionScoreEvery = 1 },
            previewEvery = 1,
        });
        // The request's scene is stored and shown as submitted, over the fast composition preset.
        Assert.Equal(["the surface of the moon", "a dog"], created.GetProperty("components").EnumerateArray().Select(c => c.GetProperty("prompt").GetString()));
        Assert.Equal([0.25, 0.5, 0.75, 1.0], created.GetProperty("components")[1].GetProperty("box").EnumerateArray().Select(v => v.GetDouble()));
        Assert.Equal(2, created.GetProperty("composition").GetProperty("fusionSteps").GetInt32());
        Assert.Equal(CompositionPresets.Fast.Fusion.OuterLearningRate, created.GetProperty("composition").GetProperty("outerLearningRate").GetDouble());

        var done = await client.WaitAsync(created.Id(), timeout: TimeSpan.FromMinutes(5));
        Assert.True(done.Status() == "succeeded", done.ToString());
        var self = $"/v1/generations/{created.Id()}";
        var links = done.GetProperty("links");
        Assert.Equal([$"{self}/components/0", $"{self}/components/1"], links.GetProperty("components").EnumerateArray().Select(l => l.GetString()));
        Assert.Equal($"{self}/composite", links.GetProperty("composite").GetString());
        Assert.Equal([1, 2], done.GetProperty("previews").EnumerateArray().Select(p => p.GetProperty("step").GetInt32()));

        // The fused image carries the scene: its prompt, components and fusion options.
        var png = await client.GetByteArrayAsync(links.GetProperty("image").GetString());
        var provenance = ProvenancePng.Read(png);
        Assert.Equal((256, 256), (provenance.Width, provenance.Height));
        Assert.Equal(Scene, provenance.Provenance!.Prompt);
        Assert.Equal(7, provenance.Provenance.Seed);
        Assert.Equal([new SceneComponent("the surface of the moon"), new SceneComponent("a dog", new SceneBox(0.25, 0.5, 0.75, 1.0), 0.0)],
            provenance.Provenance.Components!);
        Assert.Equal(2, provenance.Provenance.Composition!.FusionSteps);
        Assert.Contains("Component 2: a dog @ 0.25,0.5,0.75,1", provenance.Parameters);
        Assert.Equal(done.GetProperty("result").GetProperty("augClipScore").GetDouble(), provenance.Provenance.AugClipScore!.Value, 4);

        // Each component is its own image; the naive composite is the dog inside its box and the moon outside.
        using var background = Image.Load<Rgb24>(await client.GetByteArrayAsync($"{self}/components/0"));
        using var dog = Image.Load<Rgb24>(await client.GetByteArrayAsync($"{self}/components/1"));
        using var composite = Image.Load<Rgb24>(await client.GetByteArrayAsync($"{self}/composite"));
        Assert.Equal((256, 256), (composite.Width, composite.Height));
        var differ = 0;
        for (var y = 0; y < 256; y++)
            for (var x = 0; x < 256; x++)
            {
                var inside = x is >= 64 and < 192 && y >= 128; // [0.25, 0.5, 0.75, 1] at 256 × 256
                Assert.Equal(inside ? dog[x, y] : background[x, y], composite[x, y]);
                if (dog[x, y] != background[x, y]) differ++;
            }
        Assert.True(differ > 256 * 256 / 2, $"the two components are nearly the same image ({differ} pixels differ)");

        // The trace: the fusion's outer steps as points, and the whole composition trace beside them.
        var trace = await client.GetJsonAsync($"{self}/trace");
        Assert.Equal([1, 2], trace.GetProperty("points").EnumerateArray().Select(p => p.GetProperty("step").GetInt32()));
        var composition = trace.GetProperty("composition");
        Assert.Equal(Scene, composition.GetProperty("prompt").GetString());
        Assert.Equal(2, composition.GetProperty("components").GetArrayLength());
        Assert.Equal(2, composition.GetProperty("fusion").GetArrayLength());
        Assert.Equal(provenance.Provenance.AugClipScore!.Value, composition.GetProperty("finalAugClip").GetDouble(), 10);
        using var plot = await client.GetAsync($"{self}/trace.png");
        Assert.Equal(HttpStatusCode.OK, plot.StatusCode);

        // Out of range: 404 problems that say why.
        foreach (var index in new[] { 2, 9 })
        {
            using var missing = await client.GetAsync($"{self}/components/{index}");
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
            Assert.Equal("application/problem+json", missing.Content.Headers.ContentType?.MediaType);
            Assert.Contains("has 2 components, indexed 0 to 1", await missing.Content.ReadAsStringAsync());
        }
    }

    [Fact]
    public async Task Progress_NamesTheComponent_InTheApiAndTheWebhook_AndACancelStopsTheRun_WithNoImages()
    {
        await using var receiver = await WebhookReceiver.StartAsync(_ => 204);
        using var client = factory.CreateClient();
        var created = await client.PostAsync(new
        {
            prompt = Scene,
            model = "biggan-256",
            seed = 8,
            preset = "fast",
            components = new object[] { new { prompt = "the surface of the moon" }, new { prompt = "a dog", box = new[] { 0.2, 0.4, 0.8, 1.0 } } },
            options = new { basisIterations = 1, samplesPerIteration = 2, topK = 1, steps = 10000, augmentations = 1, scoreEvery = 0, finalAugmentations = 1 },
            composition = new { fusionSteps = 1, innerSteps = 1, warmupSteps = 0, fusionAugmentations = 1, fusionScoreEvery = 0 },
            webhook = receiver.Url("/progress"),
            webhookEvents = new[] { "progress" },
        });
        static int? Component(JsonElement g) =>
            g.TryGetProperty("progress", out var p) && p.ValueKind == JsonValueKind.Object && p.GetProperty("phase").GetString() == "optimizing"
            && p.TryGetProperty("component", out var c) && c.ValueKind == JsonValueKind.Number ? c.GetInt32() : null;

        // Stage 1 says which component it is optimising, of how many.
        var first = await client.WaitAsync(created.Id(), g => Component(g) is not null, timeout: TimeSpan.FromMinutes(3));
        Assert.Equal(1, Component(first));
        Assert.Equal(2, first.GetProperty("progress").GetProperty("components").GetInt32());
        Assert.Equal(10000, first.GetProperty("progress").GetProperty("total").GetInt32());

        // So does the progress webhook's payload (its phase is the stored name, "Optimizing").
        var hooked = await receiver.WaitForAsync(e => e.GetProperty("data").TryGetProperty("progress", out var p)
            && string.Equals(p.GetProperty("phase").GetString(), "optimizing", StringComparison.OrdinalIgnoreCase), TimeSpan.FromMinutes(1));
        var progress = hooked.GetProperty("data").GetProperty("progress");
        Assert.Equal(1, progress.GetProperty("component").GetInt32());
        Assert.Equal(2, progress.GetProperty("components").GetInt32());

        using (var cancel = await client.PostAsync($"/v1/generations/{created.Id()}/cancel", null))
            Assert.Equal(HttpStatusCode.Accepted, cancel.StatusCode);
        var done = await client.WaitAsync(created.Id(), timeout: TimeSpan.FromMinutes(1));
        Assert.Equal("canceled", done.Status());
        Assert.Equal(JsonValueKind.Null, done.GetProperty("links").GetProperty("image").ValueKind);
        Assert.False(done.GetProperty("links").TryGetProperty("composite", out var composite) && composite.ValueKind != JsonValueKind.Null);
        foreach (var path in new[] { "components/0", "composite" })
        {
            using var missing = await client.GetAsync($"/v1/generations/{created.Id()}/{path}");
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
            Assert.Contains("is canceled", await missing.Content.ReadAsStringAsync());
        }
    }
}
