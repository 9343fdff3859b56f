using System.Net.Http.Json;
using FuseDream.Generation;
using FuseDream.Imaging;
using FuseDream.Tests.Support;

namespace FuseDream.Tests.Api;

/// <summary>The whole service with the real FuseDream pipeline on the tiny fixture models (random weights, CPU).</summary>
public class FixtureModelServiceTests(FixtureModelServiceTests.Factory factory) : IClassFixture<FixtureModelServiceTests.Factory>
{
    public sealed class Factory : FixtureModelServiceFactory;

    [Fact]
    public async Task Prompt_RunsThroughTheRealPipeline_ToAPngWithItsProvenance()
    {
        using var client = factory.CreateClient();
        var models = await client.GetJsonAsync("/v1/models");
        Assert.Equal(["biggan-256"], models.GetProperty("models").EnumerateArray().Select(m => m.GetProperty("id").GetString()));
        // The worker says what Models:Precision auto resolved to on this machine, and why.
        var worker = Assert.Single(models.GetProperty("workers").EnumerateArray());
        var expected = FuseDream.Models.ModelPrecision.ChooseDefault(TorchSharp.torch.CPU);
        Assert.Equal(FuseDream.Models.ModelPrecision.Name(expected.Precision), worker.GetProperty("precision").GetString());
        Assert.Equal(expected.Reason, worker.GetProperty("precisionReason").GetString());

        const string prompt = "a tiny red fox";
        var created = await client.PostAsync(new
        {
            prompt,
            model = "biggan-256",
            seed = 11,
            preset = "fast",
            options = new { basisIterations = 1, samplesPerIteration = 2, topK = 1, steps = 2, augmentations = 1, scoreEvery = 1, finalAugmentations = 1 },
        });
        var done = await client.WaitAsync(created.Id(), timeout: TimeSpan.FromMinutes(3));
        Assert.True(done.Status() == "succeeded", done.ToString());

        var png = await client.GetByteArrayAsync($"/v1/generations/{created.Id()}/image");
        var provenance = ProvenancePng.Read(png);
        Assert.Equal((256, 256), (provenance.Width, provenance.Height));
        Assert.Equal(prompt, provenance.Provenance!.Prompt);
        Assert.Equal(11, provenance.Provenance.Seed);
        Assert.Equal(done.GetProperty("result").GetProperty("augClipScore").GetDouble(), provenance.Provenance.AugClipScore!.Value, 4);

        var trace = await client.GetJsonAsync($"/v1/generations/{created.Id()}/trace");
        Assert.Equal([1, 2], trace.GetProperty("points").EnumerateArray().Select(p => p.GetProperty("step").GetInt32()));
    }

    [Fact]
    public async Task Clips_AreListed_AnEnsembleOfLoadedOnesRuns_AndAnUnloadedOneIs400AtSubmit()
    {
        using var client = factory.CreateClient();
        string tinyClip;
        using (var clip = FuseDream.Checkpoints.ClipCheckpoint.Load(Path.Combine(FixtureSets.Root, "clip", "clip_tiny_jit.pt")))
            tinyClip = FuseDream.Clip.ClipModelIds.Of(clip.Config);
        var models = await client.GetJsonAsync("/v1/models");
        Assert.Equal([tinyClip], models.GetProperty("clips").EnumerateArray().Select(m => m.GetProperty("id").GetString()));
        Assert.All(models.GetProperty("workers").EnumerateArray(), w => Assert.Equal([tinyClip], w.GetProperty("clips").EnumerateArray().Select(c => c.GetString())));

        var before = await factory.Probe.MarkAsync();
        using var refused = await client.PostAsync("/v1/generations", JsonContent.Create(new
        {
            prompt = "a tiny red fox",
            model = "biggan-256",
            clips = new object[] { new { model = tinyClip, weight = 1.0 }, new { model = "clip-vit-l-14", weight = 1.0 } },
        }));
        var problem = await refused.Content.ReadAsStringAsync();
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, refused.StatusCode);
        var reason = System.Text.Json.JsonDocument.Parse(problem).RootElement.GetProperty("errors").GetProperty("clips[1].model")[0].GetString();
        Assert.Contains($"no live worker serving biggan-256 has CLIP 'clip-vit-l-14'; the CLIPs they have: {tinyClip}", reason);
        Assert.Equal((0L, 0L), await factory.Probe.AddedSinceAsync(before));

        var created = await client.PostAsync(new
        {
            prompt = "a tiny red fox",
            model = "biggan-256",
            seed = 13,
            preset = "fast",
            clips = new object[] { new { model = tinyClip, weight = 2.0 } },
            options = new { basisIterations = 1, samplesPerIteration = 2, topK = 1, steps = 1, augmentations = 1, scoreEvery = 1, finalAugmentations = 1 },
        });
        var done = await client.WaitAsync(created.Id(), timeout: TimeSpan.FromMinutes(3));
        Assert.True(done.Status() == "succeeded", done.ToString());
        var clips = done.GetProperty("options").GetProperty("clips").EnumerateArray().Single();
        Assert.Equal((tinyClip, 2.0), (clips.GetProperty("model").GetString(), clips.GetProperty("weight").GetDouble()));
    }

    [Fact]
    public async Task WeightedPrompts_RunThroughTheRealPipeline_WithEachPromptsScoreInTheTraceAndTheImage()
    {
        using var client = factory.CreateClient();
        var created = await client.PostAsync(new
        {
            prompts = new object[] { new { text = "a tiny red fox", weight = 2.0 }, new { text = "a blurry photo", weight = -0.5 } },
            model = "biggan-256",
            seed = 12,
            preset = "fast",
            options = new { basisIterations = 1, samplesPerIteration = 2, topK = 1, steps = 2, augmentations = 1, scoreEvery = 1, finalAugmentations = 1 },
        });
        var done = await client.WaitAsync(created.Id(), timeout: TimeSpan.FromMinutes(3));
        Assert.True(done.Status() == "succeeded", done.ToString());
        Assert.Equal("(a tiny red fox:2), (a blurry photo:-0.5)", done.GetProperty("prompt").GetString());
        var stored = done.GetProperty("options").GetProperty("prompts").EnumerateArray()
            .Select(p => (p.GetProperty("text").GetString(), p.GetProperty("weight").GetDouble())).ToList();
        Assert.Equal([("a tiny red fox", 2.0), ("a blurry photo", -0.5)], stored);

        var png = await client.GetByteArrayAsync($"/v1/generations/{created.Id()}/image");
        var provenance = ProvenancePng.Read(png);
        Assert.StartsWith("(a tiny red fox:2), (a blurry photo:-0.5)\nSteps: 2, Seed: 12", provenance.Parameters);
        Assert.Equal([new WeightedPrompt("a tiny red fox", 2.0), new WeightedPrompt("a blurry photo", -0.5)], provenance.Provenance!.Options.Prompts!);
        var perPrompt = provenance.Provenance.PromptScores!;
        Assert.Equal(2, perPrompt.Count);
        // The score is the weighted one: (2 · s₁ − 0.5 · s₂) / 2.
        Assert.Equal((2 * perPrompt[0] - 0.5 * perPrompt[1]) / 2, provenance.Provenance.AugClipScore!.Value, 10);

        var trace = await client.GetJsonAsync($"/v1/generations/{created.Id()}/trace");
        foreach (var point in trace.GetProperty("points").EnumerateArray())
        {
            var scores = point.GetProperty("promptAugClip").EnumerateArray().Select(s => s.GetDouble()).ToArray();
            Assert.Equal(2, scores.Length);
            Assert.Equal((2 * scores[0] - 0.5 * scores[1]) / 2, point.GetProperty("augClip").GetDouble(), 10);
        }
        using var csvRequest = new HttpRequestMessage(HttpMethod.Get, $"/v1/generations/{created.Id()}/trace");
        csvRequest.Headers.Accept.ParseAdd("text/csv");
        using var csv = await client.SendAsync(csvRequest);
        Assert.StartsWith("step,loss,aug_clip,aug_clip_prompt_1,aug_clip_prompt_2\n", await csv.Content.ReadAsStringAsync());
    }
}
