using FuseDream.Generation;

namespace FuseDream.Worker.Commands;

/// <summary>
/// Where a <c>generate</c> run's files go, and the writing of them, for a single prompt and a
/// composed scene alike: <c>x.png</c>, <c>x.trace.json</c>, <c>x.trace.png</c>, <c>x.previews/</c>
/// (a scene adds <c>x.composite.png</c> and <c>x.component-i.png</c>); or a folder with image.png,
/// trace.json, trace.png, previews/ (and composite.png, component-i.png).
/// </summary>
public sealed record OutputPaths(string Image, string Trace, string Previews)
{
    /// <summary>The trace drawn as a plot, beside the trace's JSON.</summary>
    public string TracePlot => Trace[..^".json".Length] + ".png";

    /// <summary>A composed generation's naive composite, beside the image.</summary>
    public string Composite => Beside("composite");

    /// <summary>A composed generation's component <paramref name="index"/> (from 1), beside the image.</summary>
    public string Component(int index) => Beside($"component-{index}");

    private string Beside(string name) =>
        Path.GetFileName(Image) == "image.png" ? Path.Combine(Path.GetDirectoryName(Image)!, name + ".png") : Image[..^4] + "." + name + ".png";

    public static OutputPaths For(string output)
    {
        if (output.EndsWith(".png", StringComparison.OrdinalIgnoreCase))
        {
            var stem = output[..^4];
            return new OutputPaths(output, stem + ".trace.json", stem + ".previews");
        }
        return new OutputPaths(Path.Combine(output, "image.png"), Path.Combine(output, "trace.json"), Path.Combine(output, "previews"));
    }

    /// <summary>Writes each preview into <see cref="Previews"/> (made on the first) as <c>{prefix}-{step:D6}.png</c>.</summary>
    public Func<GenerationPreview, CancellationToken, Task> PreviewWriter(string prefix) => async (preview, cancellationToken) =>
    {
        Directory.CreateDirectory(Previews);
        await File.WriteAllBytesAsync(Path.Combine(Previews, $"{prefix}-{preview.Step:D6}.png"), preview.Png, cancellationToken);
    };

    /// <summary>Writes the image, making its folder, and any files beside it (the composite, the components).</summary>
    public async Task WriteImagesAsync(byte[] image, IEnumerable<(string Path, byte[] Png)>? beside, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(Image))!);
        await File.WriteAllBytesAsync(Image, image, cancellationToken);
        foreach (var (path, png) in beside ?? [])
            await File.WriteAllBytesAsync(path, png, cancellationToken);
    }

    /// <summary>Writes the trace's JSON and its plot (the loss and the measured AugCLIP of <paramref name="points"/>).</summary>
    public async Task WriteTraceAsync(string json, IReadOnlyList<TracePoint> points, string title, CancellationToken cancellationToken)
    {
        await File.WriteAllTextAsync(Trace, json, cancellationToken);
        await File.WriteAllBytesAsync(TracePlot, FuseDream.Imaging.TracePlot.Render(points, title), cancellationToken);
    }

    /// <summary>Prints where the files went: the image, <paramref name="beside"/> (label, path), the trace, its plot and, when taken, the previews.</summary>
    public void Print(TextWriter writer, bool previews, IEnumerable<(string Label, string Path)>? beside = null)
    {
        writer.WriteLine($"Image: {Image}");
        foreach (var (label, path) in beside ?? []) writer.WriteLine($"{label}: {path}");
        writer.WriteLine($"Trace: {Trace}");
        writer.WriteLine($"Trace plot: {TracePlot}");
        if (previews) writer.WriteLine($"Previews: {Previews}");
    }
}
