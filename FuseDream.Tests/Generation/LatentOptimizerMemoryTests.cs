using FuseDream.Generation;
using TorchSharp;
using static TorchSharp.torch;

namespace FuseDream.Tests.Generation;

public class LatentOptimizerMemoryTests(TinyPipeline tiny) : IClassFixture<TinyPipeline>
{
    [Fact]
    public void LiveTensorCount_StaysFlat_OverManySteps()
    {
        using var scorer = AugClipScorer.ForPrompt(tiny.Clip, "a photo of a cute corgi", CPU);
        using var random = new TorchRandomSource(5);
        using var basisZ = randn([3, tiny.Generator.DimZ], generator: new Generator(1)).clamp(-2, 2);
        using var classes = tensor(new long[] { 1, 2, 3 });
        using var basisY = tiny.Generator.ClassEmbedding(classes).detach();
        using var optimizer = new LatentOptimizer(tiny.Generator, scorer, basisZ, basisY,
            new LatentOptimizerSettings { Augmentations = 1 }, random, CPU);

        const int warmup = 5, steps = 300;
        for (var i = 0; i < warmup; i++) optimizer.Step();
        var baseline = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        var counts = new List<long>();
        for (var i = 0; i < steps; i++)
        {
            optimizer.Step();
            counts.Add(DisposeScopeManager.Statistics.ThreadTotalLiveCount - baseline);
        }
        Assert.True(counts.All(c => c == 0), $"live tensors grew during the run: {string.Join(",", counts.Distinct())}");
        Assert.Equal(warmup + steps, optimizer.StepsTaken);
    }
}
