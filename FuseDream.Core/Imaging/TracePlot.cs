using FuseDream.Generation;

namespace FuseDream.Imaging;

/// <summary>
/// A run's score trace drawn as a PNG: AugCLIP by optimisation step (left axis) and the loss
/// (right axis). The one drawing of it, used by the API (<c>GET …/trace.png</c>) and by
/// <c>generate</c> (<c>x.trace.png</c> beside the image), so both look the same.
/// </summary>
public static class TracePlot
{
    public const int Width = 800;
    public const int Height = 450;

    public static byte[] Render(IReadOnlyList<TracePoint> points, string? title = null)
    {
        ArgumentNullException.ThrowIfNull(points);
        var plot = new ScottPlot.Plot();
        var scored = points.Where(p => p.AugClip is not null).ToArray();
        if (scored.Length > 0)
        {
            var augClip = plot.Add.Scatter(scored.Select(p => (double)p.Step).ToArray(), scored.Select(p => p.AugClip!.Value).ToArray());
            augClip.LegendText = "AugCLIP";
            augClip.LineWidth = 2;
        }
        if (points.Count > 0)
        {
            var loss = plot.Add.Scatter(points.Select(p => (double)p.Step).ToArray(), points.Select(p => p.Loss).ToArray());
            loss.LegendText = "loss";
            loss.MarkerSize = 0;
            loss.Axes.YAxis = plot.Axes.Right;
            plot.Axes.Right.Label.Text = "loss";
        }
        plot.XLabel("step");
        plot.YLabel("AugCLIP");
        if (!string.IsNullOrWhiteSpace(title)) plot.Title(title.Length > 80 ? title[..77] + "…" : title);
        if (points.Count > 0) plot.ShowLegend(ScottPlot.Alignment.LowerRight);
        return plot.GetImageBytes(Width, Height, ScottPlot.ImageFormat.Png);
    }
}
