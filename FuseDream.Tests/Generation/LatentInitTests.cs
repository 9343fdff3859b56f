using FuseDream.Generation;
using static TorchSharp.torch;

namespace FuseDream.Tests.Generation;

/// <summary>The start strategies of the softmax weights.</summary>
public sealed class LatentInitTests
{
    [Fact]
    public void Paper_IsTheDrawItself_AndBest_FavoursRowZero_WithTheSameDraw()
    {
        using var scope = NewDisposeScope();
        var normal = randn([5, 7], generator: new Generator(3));
        var paper = LatentInit.Weights(LatentInit.Paper, normal.clone());
        Assert.True(paper.allclose(normal, rtol: 0, atol: 0));

        var best = LatentInit.Weights(LatentInit.Best, normal.clone());
        var expected = normal * LatentInit.BestNoise;
        expected[0] += LatentInit.BestLogit;
        Assert.True(best.allclose(expected, rtol: 0, atol: 1e-6));

        // Row 0 (the best basis sample) carries most of every coordinate's weight, the others some.
        var weights = softmax(best, 0); // [5, 7]
        Assert.True(weights[0].min().item<float>() > 0.85f);
        Assert.True(weights[1..].min().item<float>() > 0.005f);
    }

    [Fact]
    public void UnknownStart_IsNamed()
    {
        using var scope = NewDisposeScope();
        var ex = Assert.Throws<ArgumentException>(() => LatentInit.Weights("blur", zeros(2, 2)));
        Assert.Contains("Init: unknown start 'blur'; allowed: paper, best", ex.Message);
    }
}
