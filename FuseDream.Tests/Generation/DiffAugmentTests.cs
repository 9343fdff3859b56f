using FuseDream.Generation;
using static TorchSharp.torch;

namespace FuseDream.Tests.Generation;

public class DiffAugmentTests
{
    [Fact]
    public void FullPolicy_IsDifferentiable_AndKeepsTheShape()
    {
        using var scope = NewDisposeScope();
        using var random = new TorchRandomSource(7);
        var x = (rand([3, 3, 32, 32], generator: new Generator(1)) * 2 - 1).requires_grad_();
        var y = DiffAugment.Apply(x, AugmentPolicy.FuseDream, random);
        Assert.Equal(x.shape, y.shape);
        y.sum().backward();
        Assert.NotNull(x.grad);
        Assert.True(x.grad!.isfinite().all().item<bool>());
        Assert.True(x.grad.abs().sum().item<float>() > 0, "no gradient reached the input");
    }

    [Fact]
    public void Cutout_ZeroesAHalfSizeSquare_WhenItLiesInside()
    {
        using var scope = NewDisposeScope();
        var x = ones(1, 1, 8, 8);
        // offsets 4, 4 → rows and columns 4 − 2 … 4 + 1 are cut: a 4×4 square.
        var random = new RecordedRandomSource()
            .AddRandInt(0, 9, tensor(new long[] { 4 }).view(1, 1, 1))
            .AddRandInt(0, 9, tensor(new long[] { 4 }).view(1, 1, 1));
        var y = DiffAugment.Cutout(x, random);
        Assert.Equal(64 - 16, y.sum().item<float>());
        Assert.Equal(0f, y[0, 0, 2, 2].item<float>());
        Assert.Equal(0f, y[0, 0, 5, 5].item<float>());
        Assert.Equal(1f, y[0, 0, 6, 6].item<float>());
    }

    [Fact]
    public void Policy_RejectsUnknownNames_NamingThem()
    {
        var ex = Assert.Throws<ArgumentException>(() => AugmentPolicy.Parse("color,blur"));
        Assert.Contains("'blur'", ex.Message);
        Assert.Equal([AugmentKind.Color, AugmentKind.Cutout], AugmentPolicy.Parse("color, cutout").Steps);
    }

    [Fact]
    public void SameSeed_SameAugmentation_AnotherSeed_AnotherOne()
    {
        using var scope = NewDisposeScope();
        var x = rand([4, 3, 16, 16], generator: new Generator(3)) * 2 - 1;
        using var first = new TorchRandomSource(11);
        using var second = new TorchRandomSource(11);
        using var other = new TorchRandomSource(12);
        var a = DiffAugment.Apply(x, AugmentPolicy.FuseDream, first);
        var b = DiffAugment.Apply(x, AugmentPolicy.FuseDream, second);
        var c = DiffAugment.Apply(x, AugmentPolicy.FuseDream, other);
        Assert.True(a.equal(b).all().item<bool>(), "the same seed gave another augmentation");
        // Without the second half, a policy that ignored its random source would pass.
        Assert.False(a.equal(c).all().item<bool>(), "another seed gave the same augmentation");
        Assert.False(a.equal(x).all().item<bool>(), "the augmentation left the images unchanged");
    }
}
