using FuseDream.BigGan;
using FuseDream.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace FuseDream.Tests.BigGan;

/// <summary>
/// The generator's cheaper forward paths (attention in blocks of query rows) against the straightforward
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

    // The output and d(Σ output·weights)/dx for a fresh leaf copied from x.
    private static (Tensor Output, Tensor Gradient) OutputAndGradient(Tensor x, Tensor outputWeights, Func<Tensor, Tensor> forward)
    {
        var leaf = x.detach().clone().requires_grad_(true);
        var output = forward(leaf);
        (output * outputWeights).sum().backward();
        return (output.detach(), leaf.grad!);
    }
}

