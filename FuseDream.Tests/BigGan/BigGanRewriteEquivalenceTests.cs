using FuseDream.BigGan;
using FuseDream.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace FuseDream.Tests.BigGan;

/// <summary>
/// The generator's cheaper forward paths (attention in blocks of query rows, the shortcut conv
/// before the upsampling, conditional batch norm as one affine) against the straightforward
/// computation they replace, on random weights and inputs: outputs and gradients.
/// </summary>
public sealed class BigGanRewriteEquivalenceTests : IDisposable
{
    // BigGAN-128 at G_ch 16 has attention at 64×64 over 32 channels: small, but every path is there.
    private readonly BigGanGenerator _generator = BigGanRandomInit.Create(BigGanConfig.ForResolution(128, channels: 16), seed: 3);

    public void Dispose() => _generator.Dispose();

    [Fact]
    public void QueryRowsPerBlock_BoundsTheBlockAndComputesAtLeastOneRow()
    {
        Assert.Equal(100, SelfAttention.QueryRowsPerBlock(batch: 2, queries: 1024, keys: 256, elementSize: 4, maxBytes: 2 * 256 * 4 * 100 + 7));
        Assert.Equal(1, SelfAttention.QueryRowsPerBlock(batch: 2, queries: 1024, keys: 256, elementSize: 4, maxBytes: 1));
        Assert.Equal(1024, SelfAttention.QueryRowsPerBlock(batch: 2, queries: 1024, keys: 256, elementSize: 4, maxBytes: long.MaxValue));
        Assert.Equal(1024, SelfAttention.QueryRowsPerBlock(batch: 0, queries: 1024, keys: 256, elementSize: 4, maxBytes: 1 << 20));
        // BigGAN-256's attention (128×128 queries, 64×64 keys) at batch 1 in 32 MB blocks: 8 blocks of 2048 rows.
        Assert.Equal(2048, SelfAttention.QueryRowsPerBlock(batch: 1, queries: 16384, keys: 4096, elementSize: 4, maxBytes: SelfAttention.DefaultMaxAttentionMapBytes));
    }

    [Fact]
    public void SelfAttention_InBlocksOfQueryRows_MatchesTheWholeMap()
    {
        var attention = _generator.modules().OfType<SelfAttention>().Single();
        using var scope = NewDisposeScope();
        var random = new Generator(7);
        var x = randn([2, 32, 32, 32], generator: random);                 // 1024 queries, 256 keys
        var outputWeights = randn([2, 32, 32, 32], generator: random);

        attention.MaxAttentionMapBytes = long.MaxValue;                     // one block: the original's computation
        var (expected, expectedGrad) = OutputAndGradient(x, outputWeights, attention.call);
        attention.MaxAttentionMapBytes = 2 * 256 * 4 * 100;                 // 100 rows: 10 full blocks and one of 24
        var (actual, actualGrad) = OutputAndGradient(x, outputWeights, attention.call);
        attention.MaxAttentionMapBytes = SelfAttention.DefaultMaxAttentionMapBytes;

        TensorAssert.Close(expected, actual, atol: 1e-6, rtol: 1e-6, "attention output");
        TensorAssert.CloseRelativeToMax(expectedGrad, actualGrad, 1e-6, "attention gradient w.r.t. x");
    }

    [Fact]
    public void ConditionalBatchNorm_AsOneAffine_MatchesNormalizeThenScaleAndShift()
    {
        var norm = _generator.modules().OfType<ConditionalBatchNorm>().First();
        var channels = Buffer(norm, "stored_mean").shape[0];
        using var scope = NewDisposeScope();
        var random = new Generator(8);
        var x = randn([3, channels, 8, 8], generator: random) * 2 + 0.5;
        var conditioning = randn([3, _generator.Config.ConditioningDim], generator: random);
        var outputWeights = randn([3, channels, 8, 8], generator: random);

        var (expected, expectedGrads) = OutputAndGradients(x, conditioning, outputWeights, (a, c) => StraightforwardBatchNorm(norm, a, c));
        var (actual, actualGrads) = OutputAndGradients(x, conditioning, outputWeights, norm.call);

        TensorAssert.Close(expected, actual, atol: 1e-5, rtol: 1e-5, "conditional batch norm output");
        TensorAssert.CloseRelativeToMax(expectedGrads.X, actualGrads.X, 1e-5, "gradient w.r.t. x");
        TensorAssert.CloseRelativeToMax(expectedGrads.Conditioning, actualGrads.Conditioning, 1e-5, "gradient w.r.t. the conditioning");
    }

    [Fact]
    public void GBlock_ShortcutBeforeUpsampling_MatchesTheStraightforwardBlock()
    {
        var block = _generator.modules().OfType<GBlock>().ElementAt(2);
        var inChannels = Buffer(Child<ConditionalBatchNorm>(block, "bn1"), "stored_mean").shape[0];
        var outChannels = Buffer(Child<ConditionalBatchNorm>(block, "bn2"), "stored_mean").shape[0];
        using var scope = NewDisposeScope();
        var random = new Generator(9);
        var x = randn([2, inChannels, 8, 8], generator: random);
        var conditioning = randn([2, _generator.Config.ConditioningDim], generator: random);
        var outputWeights = randn([2, outChannels, 16, 16], generator: random);

        var (expected, expectedGrads) = OutputAndGradients(x, conditioning, outputWeights, (a, c) => StraightforwardBlock(block, a, c));
        var (actual, actualGrads) = OutputAndGradients(x, conditioning, outputWeights, block.call);

        TensorAssert.Close(expected, actual, atol: 1e-5, rtol: 1e-5, "block output");
        TensorAssert.CloseRelativeToMax(expectedGrads.X, actualGrads.X, 1e-5, "gradient w.r.t. x");
        TensorAssert.CloseRelativeToMax(expectedGrads.Conditioning, actualGrads.Conditioning, 1e-5, "gradient w.r.t. the conditioning");
    }

    // layers.GBlock as the original runs it: ccbn → ReLU → nearest ×2 → conv3×3 → ccbn → ReLU →
    // conv3×3, plus the upsampled input through the 1×1 shortcut.
    private Tensor StraightforwardBlock(GBlock block, Tensor x, Tensor conditioning)
    {
        var h = StraightforwardBatchNorm(Child<ConditionalBatchNorm>(block, "bn1"), x, conditioning).relu();
        h = Child<SNConv2d>(block, "conv1").call(Upsample(h));
        h = StraightforwardBatchNorm(Child<ConditionalBatchNorm>(block, "bn2"), h, conditioning).relu();
        h = Child<SNConv2d>(block, "conv2").call(h);
        return h + Child<SNConv2d>(block, "conv_sc").call(Upsample(x));
    }

    // layers.ccbn in eval mode: normalise with the stored statistics, then · (1 + gain(c)) + bias(c).
    private Tensor StraightforwardBatchNorm(ConditionalBatchNorm norm, Tensor x, Tensor conditioning)
    {
        var batch = x.shape[0];
        var gain = (1 + Child<SNLinear>(norm, "gain").call(conditioning)).view(batch, -1, 1, 1);
        var bias = Child<SNLinear>(norm, "bias").call(conditioning).view(batch, -1, 1, 1);
        var normalized = F.batch_norm(x, Buffer(norm, "stored_mean"), Buffer(norm, "stored_var"), training: false, eps: _generator.Config.BatchNormEps);
        return normalized * gain + bias;
    }

    private static Tensor Upsample(Tensor x) => F.interpolate(x, scale_factor: [2.0, 2.0], mode: InterpolationMode.Nearest);

    private static T Child<T>(nn.Module module, string name) => (T)(object)module.named_children().Single(c => c.name == name).module;

    private static Tensor Buffer(nn.Module module, string name) => module.named_buffers().Single(b => b.name == name).buffer;

    // The output and d(Σ output·weights)/dx for fresh leaves copied from x.
    private static (Tensor Output, Tensor Gradient) OutputAndGradient(Tensor x, Tensor outputWeights, Func<Tensor, Tensor> forward)
    {
        var leaf = x.detach().clone().requires_grad_(true);
        var output = forward(leaf);
        (output * outputWeights).sum().backward();
        return (output.detach(), leaf.grad!);
    }

    private static (Tensor Output, (Tensor X, Tensor Conditioning) Gradients) OutputAndGradients(
        Tensor x, Tensor conditioning, Tensor outputWeights, Func<Tensor, Tensor, Tensor> forward)
    {
        var xLeaf = x.detach().clone().requires_grad_(true);
        var conditioningLeaf = conditioning.detach().clone().requires_grad_(true);
        var output = forward(xLeaf, conditioningLeaf);
        (output * outputWeights).sum().backward();
        Assert.True(conditioningLeaf.grad!.abs().sum().item<float>() > 0, "no gradient reached the conditioning");
        return (output.detach(), (xLeaf.grad!, conditioningLeaf.grad!));
    }
}
