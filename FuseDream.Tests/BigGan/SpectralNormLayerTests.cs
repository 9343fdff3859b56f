using FuseDream.BigGan;
using TorchSharp;
using static TorchSharp.torch;

namespace FuseDream.Tests.BigGan;

/// <summary>SNLinear and SNConv2d share their keys and the one-time division by σ.</summary>
public sealed class SpectralNormLayerTests
{
    [Fact]
    public void BothLayers_HaveTheOriginalsKeys_WithAndWithoutBias()
    {
        using var linear = new SNLinear(3, 2);
        using var conv = new SNConv2d(3, 2, kernelSize: 1, bias: false);
        Assert.Equal(["bias", "sv0", "u0", "weight"], linear.state_dict().Keys.Order(StringComparer.Ordinal));
        Assert.Equal(["sv0", "u0", "weight"], conv.state_dict().Keys.Order(StringComparer.Ordinal));
        Assert.Equal([2L, 3, 1, 1], conv.state_dict()["weight"].shape);
    }

    [Fact]
    public void Folding_DividesTheWeightBySigma_Once()
    {
        using var conv = new SNConv2d(1, 1, kernelSize: 1);
        using (no_grad())
        {
            conv.state_dict()["weight"].fill_(4);
            conv.state_dict()["u0"].fill_(1);
        }

        conv.FoldSpectralNorm(1e-8);

        Assert.Equal(4f, conv.Sigma, 4);
        Assert.Equal(1f, conv.state_dict()["weight"].item<float>(), 4);
        Assert.Throws<InvalidOperationException>(() => conv.FoldSpectralNorm(1e-8));
    }

    [Fact]
    public void MovingTheModule_MovesTheTensorsItComputesWith()
    {
        // Conversions and device moves swap a module's tensors through the fields TorchSharp can
        // see; the forward pass must use the swapped ones (a dtype change shows it without a GPU).
        using var linear = new SNLinear(3, 2);
        linear.to(float64);
        using var output = linear.call(ones(new long[] { 1, 3 }, dtype: float64));
        Assert.Equal(ScalarType.Float64, output.dtype);
    }
}
