using FuseDream.Generation;
using FuseDream.Tests.Support;
using static TorchSharp.torch;

namespace FuseDream.Tests.Generation;

/// <summary>Float32 parity with the original's interpolation is covered by the DiffAugment and AugCLIP fixture tests.</summary>
public class BilinearResizeTests
{
    [Theory]
    [InlineData(64, 54)]
    [InlineData(64, 75)]
    [InlineData(256, 224)]
    [InlineData(32, 32)]
    public void Float64_MatchesLibtorchInterpolate(long size, long target)
    {
        using var scope = NewDisposeScope();
        var x = rand([2, 3, size, size], generator: new Generator(9), dtype: float64) * 2 - 1;
        var native = nn.functional.interpolate(x, [target, target], mode: InterpolationMode.Bilinear, align_corners: false);
        var ours = BilinearResize.Resize(x, target, target);
        TensorAssert.Close(native, ours, 1e-12, 0, $"{size}→{target}");
    }

    [Fact]
    public void Gradient_IsTheAdjointOfTheResize()
    {
        using var scope = NewDisposeScope();
        var x = rand([1, 1, 20, 20], generator: new Generator(2), dtype: float64).requires_grad_();
        var weights = rand([1, 1, 13, 13], generator: new Generator(3), dtype: float64);
        (BilinearResize.Resize(x, 13, 13) * weights).sum().backward();
        var xNative = x.detach().clone().requires_grad_();
        (nn.functional.interpolate(xNative, [13, 13], mode: InterpolationMode.Bilinear, align_corners: false) * weights).sum().backward();
        TensorAssert.Close(xNative.grad!, x.grad!, 1e-12, 0, "grad");
    }

    [Fact]
    public void Float32_RoundsTheScaleToFloat_AsPyTorch()
    {
        var (_, _, weights32) = BilinearResize.Taps(256, 224, singlePrecisionScale: true);
        var (_, _, weights64) = BilinearResize.Taps(256, 224, singlePrecisionScale: false);
        // (float)(256/224) is 5.1e-8 above 256/224, so the last coordinate moves by ~1.1e-5.
        Assert.InRange(weights32[223] - weights64[223], 1.0e-5, 1.2e-5);
    }
}
