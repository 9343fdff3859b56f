using FuseDream.BigGan;
using TorchSharp;
using static TorchSharp.torch;

namespace FuseDream.Tests.BigGan;

/// <summary>The generator's contract with the optimiser: frozen, checked inputs, gradients to z and y, flat memory.</summary>
public class BigGanGeneratorTests
{
    private static BigGanGenerator Tiny(int resolution = 256, long seed = 11) =>
        BigGanRandomInit.Create(BigGanConfig.ForResolution(resolution, channels: 4), seed);

    private static (Tensor Z, Tensor Y) Inputs(BigGanGenerator generator, int batch, ulong seed)
    {
        var random = new Generator(seed);
        var z = randn([batch, generator.DimZ], generator: random);
        var y = generator.ClassEmbedding(randint(0, generator.NumClasses, [batch], generator: random));
        return (z, y);
    }

    [Fact]
    public void Generator_IsFrozenInEvalMode()
    {
        using var generator = Tiny();
        Assert.False(generator.training);
        Assert.All(generator.modules(), m => Assert.False(m.training));
        Assert.All(generator.parameters(), p => Assert.False(p.requires_grad));
    }

    [Fact]
    public void Generate_GivesImagesInRangeWithGradientsForZAndYOnly()
    {
        using var generator = Tiny();
        using var scope = NewDisposeScope();
        var (z, y) = Inputs(generator, batch: 2, seed: 5);
        z.requires_grad_(true);
        y.requires_grad_(true);
        var image = generator.Generate(z, y);
        Assert.Equal([2L, 3, 256, 256], image.shape);
        Assert.True(image.abs().max().item<float>() <= 1f);
        image.mean().backward();
        Assert.True(z.grad!.abs().sum().item<float>() > 0, "no gradient reached z");
        Assert.True(y.grad!.abs().sum().item<float>() > 0, "no gradient reached y");
        Assert.All(generator.parameters(), p => Assert.Null(p.grad));
    }

    [Fact]
    public void Generate_EachSampleDependsOnlyOnItsOwnLatents()
    {
        // Eval-mode batch norm uses stored statistics: a batch is a stack of independent images.
        using var generator = Tiny(512);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var (z, y) = Inputs(generator, batch: 3, seed: 9);
        var batch = generator.Generate(z, y);
        var single = generator.Generate(z[1..2], y[1..2]);
        Assert.True((batch[1..2] - single).abs().max().item<float>() < 1e-5f);
    }

    [Fact]
    public void CreateRandom_IsReproducibleFromItsSeed()
    {
        using var a = Tiny(seed: 21);
        using var b = Tiny(seed: 21);
        using var c = Tiny(seed: 22);
        var (sa, sb, sc) = (a.state_dict(), b.state_dict(), c.state_dict());
        Assert.All(sa.Keys, k => Assert.True(sa[k].equal(sb[k]).all().item<bool>(), k));
        Assert.False(sa["blocks.3.0.conv1.weight"].equal(sc["blocks.3.0.conv1.weight"]).all().item<bool>());
    }

    [Theory]
    [InlineData(2, 139, 2, 128, "z must have shape [batch, 140]")]
    [InlineData(2, 140, 2, 120, "y must have shape [batch, 128]")]
    [InlineData(2, 140, 3, 128, "same batch size; got 2 and 3")]
    public void Generate_WrongShapes_SayWhatIsExpected(long zBatch, long zWidth, long yBatch, long yWidth, string message)
    {
        using var generator = Tiny();
        using var scope = NewDisposeScope();
        var ex = Assert.Throws<ArgumentException>(() => generator.Generate(zeros(zBatch, zWidth), zeros(yBatch, yWidth)));
        Assert.Contains(message, ex.Message);
    }

    [Fact]
    public void Generate_Float64Input_SaysFloat32IsExpected()
    {
        using var generator = Tiny();
        using var scope = NewDisposeScope();
        var ex = Assert.Throws<ArgumentException>(() => generator.Generate(zeros(1, 140, dtype: float64), zeros(1, 128)));
        Assert.Contains("must be Float32 like the generator's weights", ex.Message);
    }

    [Fact]
    public void ClassEmbedding_LeavesTheCallersTensorUsable()
    {
        using var generator = Tiny();
        using var scope = NewDisposeScope();
        var classes = tensor(new long[] { 5, 17 });
        var first = generator.ClassEmbedding(classes);
        var second = generator.ClassEmbedding(classes);
        Assert.Equal(new long[] { 5, 17 }, classes.data<long>().ToArray());
        Assert.True(first.equal(second).all().item<bool>());
    }

    [Fact]
    public void ClassEmbedding_OutOfRange_SaysTheValidRange()
    {
        using var generator = Tiny();
        using var scope = NewDisposeScope();
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => generator.ClassEmbedding(tensor(new long[] { 3, 1000 })));
        Assert.Contains("[0, 999]", ex.Message);
        Assert.Contains("1000", ex.Message);
    }

    [Fact]
    public void RepeatedGeneration_InDisposeScopes_HoldsNoTensors()
    {
        using var generator = Tiny(512);
        void Step(ulong seed)
        {
            using var scope = NewDisposeScope();
            var (z, y) = Inputs(generator, batch: 1, seed);
            z.requires_grad_(true);
            generator.Generate(z, y).square().mean().backward();
        }
        Step(0); // warm-up: one-off allocations inside TorchSharp are not leaks
        var before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (ulong i = 1; i <= 5; i++) Step(i);
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }
}
