using FuseDream.Clip;
using FuseDream.Generation;
using FuseDream.Tests.Support;
using static TorchSharp.torch;

namespace FuseDream.Tests.Generation;

/// <summary>
/// Scoring with several CLIPs: the fixtures' tiny CLIP and a random one of another input
/// resolution. The ensemble's score is the weighted mean of each CLIP's own score, each CLIP
/// seeing the image at its own resolution.
/// </summary>
public sealed class ClipEnsembleTests : IClassFixture<TinyPipeline>, IDisposable
{
    private readonly TinyPipeline _tiny;
    private readonly ClipModel _other;

    public ClipEnsembleTests(TinyPipeline tiny)
    {
        _tiny = tiny;
        var config = tiny.Clip.Config with { ImageResolution = tiny.Clip.Config.ImageResolution + 2 * tiny.Clip.Config.VisionPatchSize };
        using var generator = new TorchSharp.torch.Generator(77);
        _other = ClipRandomInit.Create(config, generator);
        _other.eval();
        foreach (var parameter in _other.parameters()) parameter.requires_grad = false;
    }

    [Fact]
    public void EnsembleScore_IsTheWeightedMeanOfEachClipsScore_EachAtItsOwnResolution()
    {
        Assert.NotEqual(_tiny.Clip.InputResolution, _other.InputResolution);
        using var scope = NewDisposeScope();
        var image = Image(seed: 3);
        WeightedPrompt[] prompts = [new("a red bus", 1.0), new("a blurry photo", -0.5)];
        using var ensemble = AugClipScorer.ForPrompts([(_tiny.Clip, 3.0), (_other, 1.0)], prompts, CPU);
        using var first = AugClipScorer.ForPrompts([(_tiny.Clip, 1.0)], prompts, CPU);
        using var second = AugClipScorer.ForPrompts([(_other, 1.0)], prompts, CPU);
        Assert.Equal(2, ensemble.ClipCount);

        var expected = 0.75 * first.Cosine(image) + 0.25 * second.Cosine(image);
        TensorAssert.Close(expected, ensemble.Cosine(image), 1e-6, 1e-5, "ensemble cosine");
        var expectedPerPrompt = 0.75 * first.PromptCosines(image) + 0.25 * second.PromptCosines(image);
        TensorAssert.Close(expectedPerPrompt, ensemble.PromptCosines(image), 1e-6, 1e-5, "ensemble per-prompt cosine");

        double Measure(AugClipScorer scorer)
        {
            using var random = new TorchRandomSource(5); // the same augmentations for every scorer
            return scorer.MeasureAugClip(image.narrow(0, 0, 1), 6, random, batchSize: 4);
        }
        Assert.Equal(0.75 * Measure(first) + 0.25 * Measure(second), Measure(ensemble), 5);
        Assert.NotEqual(Measure(first), Measure(second), 3);
    }

    [Fact]
    public void EachClip_GetsTheImageAtItsInputResolution()
    {
        using var scope = NewDisposeScope();
        var image = Image(seed: 4);
        Assert.Equal([2L, 3, _other.InputResolution, _other.InputResolution], AugClipScorer.ClipInput(image, _other.InputResolution).shape);
        Assert.Equal([2L, 3, _tiny.Clip.InputResolution, _tiny.Clip.InputResolution], AugClipScorer.ClipInput(image, _tiny.Clip.InputResolution).shape);
    }

    [Fact]
    public async Task Pipeline_ScoresWithTheNamedClips_AndRefusesOneItHasNot()
    {
        using var pipeline = new FuseDreamPipeline([_tiny.Clip, _other], [_tiny.Generator], CPU,
            tuning: new PipelineTuning { BasisBatchSize = 4, MeasureBatchSize = 8 });
        var otherId = ClipModelIds.Of(_other.Config);
        Assert.Equal([ClipModelIds.Of(_tiny.Clip.Config), otherId], pipeline.Clips);

        var missing = TinyPipeline.Options(steps: 1) with { Clips = new([new("clip-vit-l-14", 1.0)]) };
        var error = await Assert.ThrowsAsync<ClipNotLoadedException>(() => pipeline.RunAsync(new GenerationRequest("a red bus", 1, missing), null, null, CancellationToken.None));
        Assert.Contains("Clips[0].Model: CLIP 'clip-vit-l-14' is not loaded by this worker; loaded: ", error.Message);

        var options = TinyPipeline.Options(steps: 1) with { Clips = new([new(otherId, 1.0), new(ClipModelIds.Of(_tiny.Clip.Config), 1.0)]) };
        var result = await pipeline.RunAsync(new GenerationRequest("a red bus", 1, options), null, null, CancellationToken.None);
        Assert.Equal(options, ProvenancePng.Read(result.Png).Provenance!.Options);
        var alone = await pipeline.RunAsync(new GenerationRequest("a red bus", 1, options with { Clips = null }), null, null, CancellationToken.None);
        Assert.NotEqual(alone.AugClipScore, result.AugClipScore);
    }

    [Fact]
    public void ClipIds_AreTheCatalogsForOpenAisShapes()
    {
        Assert.Equal(ClipModelIds.VitB32, ClipModelIds.Of(ClipConfig.VitB32));
        Assert.Equal(ClipModelIds.VitB16, ClipModelIds.Of(ClipConfig.VitB16));
        Assert.Equal(ClipModelIds.VitL14, ClipModelIds.Of(ClipConfig.VitL14));
        Assert.Equal(ClipModelIds.VitL14At336, ClipModelIds.Of(ClipConfig.VitL14 with { ImageResolution = 336 }));
    }

    [Theory]
    [InlineData(0, "Clips", "1 to 3")]
    [InlineData(4, "Clips", "1 to 3")]
    public void ClipLists_OfTheWrongLength_AreRefused(int count, string field, string reason)
    {
        var options = new GenerationOptions { Clips = new(Enumerable.Range(0, count).Select(i => new ClipWeight($"clip-{i}", 1))) };
        Assert.Contains(options.Validate(), e => e.Field == field && e.Reason.Contains(reason, StringComparison.Ordinal));
    }

    [Fact]
    public void ClipEntries_AreCheckedOneByOne()
    {
        var errors = ClipWeight.Validate([new("clip-vit-b-32", 0), new("clip-vit-b-32", 1), new("", 1), null]);
        Assert.Contains(errors, e => e.Field == "Clips[0].Weight" && e.Reason.Contains("above 0", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Field == "Clips[1].Model" && e.Reason.Contains("twice", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Field == "Clips[2].Model" && e.Reason.Contains("required", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Field == "Clips[3]");
    }

    private static Tensor Image(int seed)
    {
        using var generator = new TorchSharp.torch.Generator((ulong)seed);
        return rand([2, 3, 40, 40], generator: generator) * 2 - 1;
    }

    public void Dispose() => _other.Dispose();
}
