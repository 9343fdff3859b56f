using FuseDream.Generation;
using FuseDream.Tests.Support;
using static TorchSharp.torch;

namespace FuseDream.Tests.Generation;

/// <summary>
/// A step over many augmentations scores them through CLIP in parts
/// (<see cref="LatentOptimizerSettings.AugmentationBatchSize"/>); on the fixtures' models its
/// loss and the gradients of every latent parameter equal those of the one-batch step.
/// </summary>
public class AugmentationChunkingTests(TinyPipeline tiny) : IClassFixture<TinyPipeline>
{
    private const int Augmentations = 7;

    [Theory]
    [InlineData(3)] // parts of 3, 3 and 1
    [InlineData(1)]
    public void ChunkedStep_HasTheOneBatchLossAndGradients(int batchSize)
    {
        var (wholeLoss, wholeGradients) = FirstStep(Augmentations);
        var (partsLoss, partsGradients) = FirstStep(batchSize);
        Assert.Equal(wholeLoss, partsLoss, 5);
        Assert.Equal(wholeGradients.Count, partsGradients.Count);
        foreach (var (name, whole) in wholeGradients)
        {
            Assert.True(whole.abs().max().item<float>() > 0, $"{name}: the one-batch gradient is zero, nothing is compared");
            TensorAssert.CloseRelativeToMax(whole, partsGradients[name], 1e-4, name);
        }
        foreach (var tensor in wholeGradients.Values.Concat(partsGradients.Values)) tensor.Dispose();
    }

    [Fact]
    public void ChunkedSteps_FollowTheOneBatchTrajectory()
    {
        var whole = Run(Augmentations, steps: 3);
        var parts = Run(2, steps: 3);
        Assert.Equal(whole.Length, parts.Length);
        for (var i = 0; i < whole.Length; i++)
            Assert.Equal(whole[i], parts[i], 4);
    }

    private (double Loss, Dictionary<string, Tensor> Gradients) FirstStep(int batchSize)
    {
        using var optimizer = NewOptimizer(batchSize, out var random, out var scorer, out var basis);
        using (random) using (scorer) using (basis.Z) using (basis.Y)
        {
            var observer = new GradientCapture();
            var loss = optimizer.Step(observer);
            return (loss, observer.Gradients);
        }
    }

    private double[] Run(int batchSize, int steps)
    {
        using var optimizer = NewOptimizer(batchSize, out var random, out var scorer, out var basis);
        using (random) using (scorer) using (basis.Z) using (basis.Y)
            return [.. Enumerable.Range(0, steps).Select(_ => optimizer.Step())];
    }

    private LatentOptimizer NewOptimizer(int batchSize, out TorchRandomSource random, out AugClipScorer scorer, out (Tensor Z, Tensor Y) basis)
    {
        var generator = tiny.Generator;
        scorer = AugClipScorer.ForPrompt(tiny.Clip, "a photo of a cute corgi", CPU);
        random = new TorchRandomSource(11);
        var z = randn([2, generator.DimZ], generator: new Generator(3)).clamp(-2, 2);
        using var classes = tensor(new long[] { 1, 2 });
        Tensor y;
        using (no_grad()) y = generator.ClassEmbedding(classes).detach();
        basis = (z, y);
        return new LatentOptimizer(generator, scorer, z, y,
            new LatentOptimizerSettings { Augmentations = Augmentations, AugmentationBatchSize = batchSize }, random, CPU);
    }

    private sealed class GradientCapture : IStepObserver
    {
        public Dictionary<string, Tensor> Gradients { get; } = [];

        public void OnGradients(LatentOptimizer optimizer)
        {
            foreach (var (name, parameter) in new[] { ("w_z", optimizer.WeightsZ), ("w_y", optimizer.WeightsY), ("basis_z", optimizer.BasisZ), ("basis_y", optimizer.BasisY) })
                Gradients[name] = parameter.grad!.detach().clone().DetachFromDisposeScope();
        }
    }
}
