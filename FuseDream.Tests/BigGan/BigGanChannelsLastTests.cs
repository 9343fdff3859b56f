using FuseDream.BigGan;
using FuseDream.Tests.Support;
using static TorchSharp.torch;

namespace FuseDream.Tests.BigGan;

/// <summary>The channels-last trial of BigGAN's 3×3 convolutions: another memory order, the same function.</summary>
public class BigGanChannelsLastTests
{
    [Fact]
    public void SNConv2d_InChannelsLast_ReturnsAChannelsLastMap_WithTheSameValues()
    {
        using var conv = new SNConv2d(8, 16, kernelSize: 3);
        using (no_grad())
            foreach (var p in conv.parameters()) p.normal_(generator: new Generator(3));
        using var x = randn([2, 8, 12, 12], generator: new Generator(4));
        using var nchw = conv.call(x);
        Assert.False(SNConv2d.IsChannelsLast(nchw));
        conv.ChannelsLast = true;
        using var nhwc = conv.call(x);
        Assert.True(SNConv2d.IsChannelsLast(nhwc), $"strides [{string.Join(", ", nhwc.stride())}]: the convolution did not run channels-last");
        TensorAssert.Close(nchw, nhwc, atol: 1e-5, rtol: 1e-5, name: "channels-last conv vs NCHW");
        using var back = SNConv2d.ToChannelsLast(x);
        Assert.True(SNConv2d.IsChannelsLast(back));
        Assert.True(back.eq(x).all().item<bool>());
    }

    [Theory]
    [InlineData(128)]
    [InlineData(256)]
    public void Generator_InChannelsLast_GivesTheSameContiguousImage_AndGradients_UpToRounding(int resolution)
    {
        using var generator = BigGanRandomInit.Create(BigGanConfig.ForResolution(resolution, channels: 4), seed: 5);
        var (image, gradZ, gradY) = Run(generator);
        generator.ChannelsLast = true;
        Assert.True(generator.ChannelsLast);
        var (imageCl, gradZCl, gradYCl) = Run(generator);
        using (image) using (gradZ) using (gradY) using (imageCl) using (gradZCl) using (gradYCl)
        {
            Assert.True(imageCl.is_contiguous(), "the channels-last generator's image is not NCHW-contiguous");
            // The parity fixtures' tolerances (biggan.json): 2e-4 on the image, 2% of max|grad| on
            // gradients (a ReLU gate within rounding of its tie may flip when sums are reordered).
            TensorAssert.Close(image, imageCl, atol: 2e-4, rtol: 0, name: "image");
            TensorAssert.Close(gradZ, gradZCl, atol: 0.02 * gradZ.abs().max().item<float>(), rtol: 1e-4, name: "dL/dz");
            TensorAssert.Close(gradY, gradYCl, atol: 0.02 * gradY.abs().max().item<float>(), rtol: 1e-4, name: "dL/dy");

            generator.ChannelsLast = false;
            var (again, againZ, againY) = Run(generator);
            using (again) using (againZ) using (againY)
                Assert.True(again.eq(image).all().item<bool>(), "switching back did not restore the NCHW path");
        }
    }

    private static (Tensor Image, Tensor GradZ, Tensor GradY) Run(BigGanGenerator generator)
    {
        using var scope = NewDisposeScope();
        var z = randn([2, generator.DimZ], generator: new Generator(11)).requires_grad_(true);
        using var classes = tensor(new long[] { 1, 7 });
        var y = generator.ClassEmbedding(classes).detach().requires_grad_(true);
        var image = generator.Generate(z, y);
        image.square().mean().backward();
        return (image.detach().MoveToOuterDisposeScope(), z.grad!.clone().MoveToOuterDisposeScope(), y.grad!.clone().MoveToOuterDisposeScope());
    }
}
