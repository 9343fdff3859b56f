using FuseDream.Generation;
using FuseDream.Imaging;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace FuseDream.Tests.Imaging;

public class TracePlotTests
{
    private static readonly TracePoint[] Rising = [.. Enumerable.Range(1, 40).Select(s => new TracePoint(s, 1.0 / s, s % 4 == 0 ? 0.2 + 0.002 * s : null))];

    private static int InkedPixels(byte[] png)
    {
        using var image = Image.Load<Rgba32>(png);
        var inked = 0;
        image.ProcessPixelRows(rows =>
        {
            for (var y = 0; y < rows.Height; y++)
                foreach (var p in rows.GetRowSpan(y))
                    if (p.R < 200 || p.G < 200 || p.B < 200) inked++;
        });
        return inked;
    }

    [Fact]
    public void Render_IsAPngOfTheDeclaredSize_WithTheCurvesDrawn()
    {
        var png = TracePlot.Render(Rising, "a photo of a blue dog");
        var info = Image.Identify(png);
        Assert.Equal(TracePlot.Width, info.Width);
        Assert.Equal(TracePlot.Height, info.Height);
        Assert.Equal("PNG", Image.DetectFormat(png).Name);
        // The curves add ink to the empty frame (axes, labels) that a trace without points gives.
        Assert.True(InkedPixels(png) > InkedPixels(TracePlot.Render([], "a photo of a blue dog")) + 200);
    }

    [Fact]
    public void Render_DependsOnTheTrace_AndIsDeterministic()
    {
        var falling = Rising.Select(p => p with { AugClip = p.AugClip is { } a ? 0.5 - a : null }).ToArray();
        Assert.Equal(TracePlot.Render(Rising), TracePlot.Render(Rising));
        Assert.NotEqual(TracePlot.Render(Rising), TracePlot.Render(falling));
    }
}
