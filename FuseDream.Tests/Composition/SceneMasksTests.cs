using FuseDream.Composition;
using TorchSharp;
using static TorchSharp.torch;

namespace FuseDream.Tests.Composition;

public class SceneMasksTests
{
    private static readonly IReadOnlyList<SceneComponent> Scene =
    [
        new("the surface of the moon"),
        new("a dog", new SceneBox(0.3, 0.35, 0.75, 0.95)),
        new("a star", new SceneBox(0.6, 0.0, 1.0, 0.4), 0.2),
    ];

    [Theory]
    [InlineData(256, 0.0)]
    [InlineData(256, 0.05)]
    [InlineData(512, 0.1)]
    public void Masks_PartitionTheFrame_AndStayWithinZeroAndOne(int size, double feather)
    {
        using var scope = NewDisposeScope();
        var masks = SceneMasks.Build(Scene, size, size, feather, float64, CPU); // [3, 1, size, size]
        Assert.Equal(new long[] { 3, 1, size, size }, masks.shape);
        Assert.True(masks.min().item<double>() >= 0 && masks.max().item<double>() <= 1, "a mask left [0, 1]");
        var sum = masks.sum(0, keepdim: false); // [1, size, size]
        Assert.True((sum - 1).abs().max().item<double>() < 1e-12, $"the masks sum to {sum.min().item<double>()}..{sum.max().item<double>()}, not 1");
        // The later component sits over the earlier: where the star's box is fully in, the dog has nothing.
        var starInside = masks[2, 0].narrow(0, (long)(0.15 * size), 4).narrow(1, (long)(0.85 * size), 4);
        Assert.True((starInside - 1).abs().max().item<double>() < 1e-12);
    }

    [Theory]
    [InlineData(256)]
    [InlineData(512)]
    public void HardBox_CoversExactlyThePixelsWhoseCentresItContains(int size)
    {
        using var scope = NewDisposeScope();
        var box = new SceneBox(0.25, 0.5, 0.75, 1.0);
        var masks = SceneMasks.Build([new("background"), new("thing", box, 0.0)], size, size, 0.05, float64, CPU);
        var expected = zeros(size, size, float64);
        // Columns size/4 … 3·size/4 − 1, rows size/2 … size − 1.
        expected.narrow(0, size / 2, size / 2).narrow(1, size / 4, size / 2).fill_(1.0);
        Assert.True((masks[1, 0] - expected).abs().max().ToDouble() == 0, "the box's mask is not the expected block of pixels");
        Assert.True((masks[0, 0] + expected - 1).abs().max().item<double>() == 0, "the background is not the rest of the frame");
        Assert.Equal(new PixelRect(size / 2, size / 4, size / 2, size / 2), box.Pixels(size, size));
    }

    [Fact]
    public void SoftEdges_RampAcrossTheFeather_AndStayHardOnTheFrame()
    {
        using var scope = NewDisposeScope();
        const int size = 256;
        var soft = SceneMasks.Soft(new SceneBox(0.0, 0.25, 0.5, 0.75), 0.1, size, size); // [H, W]
        var row = soft[size / 2]; // across x
        Assert.Equal(1.0, row[0].item<double>(), 12);              // the frame's left edge stays hard
        Assert.Equal(1.0, row[(long)(0.4 * size)].item<double>(), 12);
        Assert.Equal(0.0, row[(long)(0.56 * size)].item<double>(), 12);
        var edge = row.narrow(0, (long)(0.45 * size), (long)(0.1 * size)); // the band around x = 0.5
        Assert.True(edge.max().item<double>() <= 1 && edge.min().item<double>() >= 0);
        Assert.True((edge[1..] - edge[..^1]).max().item<double>() <= 0, "the ramp is not falling");
        Assert.InRange(row[size / 2].item<double>(), 0.45, 0.55);   // half way at the edge
    }

    [Theory]
    [InlineData(-0.1, 0, 0.5, 0.5, "within [0, 1]")]
    [InlineData(0, 0, 1.2, 0.5, "within [0, 1]")]
    [InlineData(0.5, 0, 0.5, 1, "positive area")]
    [InlineData(0, 0.7, 1, 0.2, "positive area")]
    public void Validation_NamesTheBoxField(double x0, double y0, double x1, double y1, string reason)
    {
        var errors = SceneValidation.Validate([new("background"), new("thing", new SceneBox(x0, y0, x1, y1))]);
        var error = Assert.Single(errors);
        Assert.Equal("components[1].box", error.Field);
        Assert.Contains(reason, error.Reason);
    }

    [Fact]
    public void Validation_CountsComponentsAndChecksPromptsAndFeathers()
    {
        Assert.Equal("components", Assert.Single(SceneValidation.Validate([new("only one")])).Field);
        Assert.Equal("components", Assert.Single(SceneValidation.Validate([.. Enumerable.Range(0, 5).Select(i => new SceneComponent($"p{i}"))])).Field);
        var errors = SceneValidation.Validate([new("background"), new(" ", null, 0.9)], new FuseDream.Text.ClipPromptTokenCounter());
        Assert.Equal(["components[1].prompt", "components[1].feather"], errors.Select(e => e.Field));
        var tooLong = string.Join(' ', Enumerable.Repeat("dog", 80));
        Assert.Equal("components[0].prompt", Assert.Single(SceneValidation.Validate([new(tooLong), new("cat")], new FuseDream.Text.ClipPromptTokenCounter())).Field);
    }
}
