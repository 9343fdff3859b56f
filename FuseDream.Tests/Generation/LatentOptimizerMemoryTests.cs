using FuseDream.BigGan;
using FuseDream.Generation;
using TorchSharp;
using static TorchSharp.torch;

namespace FuseDream.Tests.Generation;

/// <summary>
/// The live-tensor count over a few hundred optimisation steps. The generator is a narrow
/// BigGAN-128 with random weights (same blocks, conditional batch norm and self-attention as
/// the fixtures' models, a fraction of their cost per step): what is counted is the step's
/// bookkeeping, not what the weights draw. The fixtures' tiny CLIP judges.
/// </summary>
public class LatentOptimizerMemoryTests(TinyPipeline tiny) : IClassFixture<TinyPipeline>
{
    [Fact]
    public void LiveTensorCount_StaysFlat_OverManySteps()
    {
        using var generator = BigGanRandomInit.Create(BigGanConfig.ForResolution(128, channels: 4), seed: 7);
        using var scorer = AugClipScorer.ForPrompt(tiny.Clip, "a photo of a cute corgi", CPU);
        using var random = new TorchRandomSource(5);
        using var basisZ = randn([3, generator.DimZ], generator: new Generator(1)).clamp(-2, 2);
        using var classes = tensor(new long[] { 1, 2, 3 });
        using var basisY = generator.ClassEmbedding(classes).detach();
        using var optimizer = new LatentOptimizer(generator, scorer, basisZ, basisY,
            new LatentOptimizerSettings { Augmentations = 2 }, random, CPU);

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
        // The frozen generator collected no gradients from 305 backward passes.
        Assert.All(generator.parameters(), p => Assert.Null(p.grad));
    }
}
