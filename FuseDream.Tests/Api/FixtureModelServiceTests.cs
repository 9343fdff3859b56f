using FuseDream.Generation;
using FuseDream.Imaging;
using FuseDream.Tests.Support;
using Microsoft.AspNetCore.Hosting;

namespace FuseDream.Tests.Api;

/// <summary>The whole service with the real FuseDream pipeline on the tiny fixture models (random weights, CPU).</summary>
public class FixtureModelServiceTests(FixtureModelServiceTests.Factory factory) : IClassFixture<FixtureModelServiceTests.Factory>
{
    public sealed class Factory : ServiceFactory
    {
        protected override bool UseTestPipeline => false;

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.UseSetting("Models:Clip", Path.Combine(FixtureSets.Root, "clip", "clip_tiny_jit.pt"));
            builder.UseSetting("Models:BigGan256", Path.Combine(FixtureSets.Root, "biggan", "G256_tiny.pth"));
            builder.UseSetting("Models:Device", "cpu");
        }
    }

    [Fact]
    public async Task Prompt_RunsThroughTheRealPipeline_ToAPngWithItsProvenance()
    {
        using var client = factory.CreateClient();
        var models = await client.GetJsonAsync("/v1/models");
        Assert.Equal(["biggan-256"], models.GetProperty("models").EnumerateArray().Select(m => m.GetProperty("id").GetString()));

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
}
