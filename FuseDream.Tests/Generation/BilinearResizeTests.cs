using FuseDream.Generation;
using FuseDream.Tests.Support;
using static TorchSharp.torch;

namespace FuseDream.Tests.Generation;

public class BilinearResizeTests
{
    [Theory]
    [InlineData(64, 54)]
    [InlineData(64, 75)]
    [InlineData(256, 224)]
    [InlineData(32, 32)]
    public void MatchesFloat64Interpolation_WithinFloat32Rounding(long size, long target)
    {
        using var scope = NewDisposeScope();
        var x = rand([2, 3, size, size], generator: new Generator(9)) * 2 - 1;
        var exact = nn.functional.interpolate(x.to(float64), [target, target], mode: InterpolationMode.Bilinear, align_corners: false);
        var ours = BilinearResize.Resize(x, target, target);
        Assert.Equal(ScalarType.Float32, ours.dtype);
        TensorAssert.Close(exact, ours, 3e-7, 0, $"{size}→{target}");
    }

    [Fact]
    public void Gradient_IsTheAdjointOfTheResize()
    {
        using var scope = NewDisposeScope();
        var x = (rand([1, 1, 20, 20], generator: new Generator(2), dtype: float64)).requires_grad_();
        var weights = rand([1, 1, 13, 13], generator: new Generator(3), dtype: float64);
        (BilinearResize.Resize(x, 13, 13) * weights).sum().backward();
        var xNative = x.detach().clone().requires_grad_();
        (nn.functional.interpolate(xNative, [13, 13], mode: InterpolationMode.Bilinear, align_corners: false) * weights).sum().backward();
        TensorAssert.Close(xNative.grad!, x.grad!, 1e-12, 0, "grad");
    }
}
