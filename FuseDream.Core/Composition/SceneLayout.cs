using System.Globalization;
using static TorchSharp.torch;

namespace FuseDream.Composition;

/// <summary>
/// A region of the frame in [0, 1] image coordinates (x to the right, y down):
/// the box [<see cref="X0"/>, <see cref="X1"/>) × [<see cref="Y0"/>, <see cref="Y1"/>).
/// A pixel belongs to the box when its centre does.
/// </summary>
public sealed record SceneBox(double X0, double Y0, double X1, double Y1)
{
    /// <summary>The whole frame.</summary>
    public static SceneBox Frame { get; } = new(0, 0, 1, 1);

    /// <summary>Why this box is refused (coordinates outside [0, 1], no area), or null when it is valid.</summary>
    public string? Problem()
    {
        double[] values = [X0, Y0, X1, Y1];
        if (values.Any(v => !(v >= 0 && v <= 1)))
            return string.Format(CultureInfo.InvariantCulture, "every coordinate must be within [0, 1] (got [{0:G}, {1:G}, {2:G}, {3:G}])", X0, Y0, X1, Y1);
        if (!(X1 > X0) || !(Y1 > Y0))
            return string.Format(CultureInfo.InvariantCulture, "must have a positive area: x0 < x1 and y0 < y1 (got [{0:G}, {1:G}, {2:G}, {3:G}])", X0, Y0, X1, Y1);
        return null;
    }

    /// <summary>
    /// The pixels of an image of <paramref name="height"/> × <paramref name="width"/> whose centres
    /// lie in the box, as a rectangle (at least one pixel): rows [Top, Top + Height), columns [Left, Left + Width).
    /// </summary>
    public PixelRect Pixels(long height, long width)
    {
        var (top, rows) = Span(Y0, Y1, height);
        var (left, columns) = Span(X0, X1, width);
        return new PixelRect(top, left, rows, columns);
    }

    private static (long Start, long Length) Span(double from, double to, long size)
    {
        // Pixel j's centre is (j + 0.5) / size: it is inside when from ≤ centre < to.
        var start = Math.Clamp((long)Math.Ceiling(from * size - 0.5), 0, size - 1);
        var end = Math.Clamp((long)Math.Ceiling(to * size - 0.5), start + 1, size);
        return (start, end - start);
    }

    public override string ToString() =>
        string.Format(CultureInfo.InvariantCulture, "{0:G},{1:G},{2:G},{3:G}", X0, Y0, X1, Y1);
}

/// <summary>A rectangle of pixels: rows [Top, Top + Height), columns [Left, Left + Width).</summary>
public readonly record struct PixelRect(long Top, long Left, long Height, long Width)
{
    /// <summary>This rectangle of <paramref name="images"/> [batch, channels, H, W].</summary>
    public Tensor Crop(Tensor images) => images.narrow(2, Top, Height).narrow(3, Left, Width);
}

/// <summary>
/// One part of a composed scene: its prompt and where it goes. The first component of a scene
/// is the background: without a box it covers the frame. <see cref="Feather"/> (a fraction of
/// the image's side) softens the box's edges; null takes the composition's default.
/// </summary>
public sealed record SceneComponent(string Prompt, SceneBox? Box = null, double? Feather = null)
{
    /// <summary>The component's region: its box, or the whole frame.</summary>
    public SceneBox Region => Box ?? SceneBox.Frame;
}

/// <summary>
/// The masks of a scene's components: soft boxes, later components over earlier ones, and the
/// background (the first component) taking whatever the others leave, so that the masks
/// partition the frame (they sum to 1 at every pixel) and each lies in [0, 1].
/// </summary>
public static class SceneMasks
{
    /// <summary>
    /// The masks [n, 1, <paramref name="height"/>, <paramref name="width"/>] of
    /// <paramref name="components"/>, in <paramref name="dtype"/> on <paramref name="device"/>.
    /// A box with feather f is 1 inside, 0 outside and ramps linearly over a band of width f
    /// centred on each edge that is not the frame's (an edge on the frame's border stays hard);
    /// with f = 0 a pixel is in the box exactly when its centre is (<see cref="SceneBox.Pixels"/>).
    /// </summary>
    public static Tensor Build(IReadOnlyList<SceneComponent> components, long height, long width, double defaultFeather,
        ScalarType dtype, Device device)
    {
        ArgumentNullException.ThrowIfNull(components);
        if (components.Count == 0) throw new ArgumentException("no components", nameof(components));
        using var scope = NewDisposeScope();
        var remaining = ones(height, width, float64); // [H, W]: what the components so far leave uncovered
        var masks = new Tensor[components.Count];
        for (var i = components.Count - 1; i >= 1; i--)
        {
            var component = components[i];
            var box = Soft(component.Region, component.Feather ?? defaultFeather, height, width); // [H, W]
            masks[i] = box * remaining;
            remaining = remaining * (1 - box);
        }
        masks[0] = remaining;
        return stack(masks).unsqueeze(1).to(dtype, device).MoveToOuterDisposeScope(); // [n, 1, H, W]
    }

    /// <summary>One soft box [H, W] in [0, 1].</summary>
    internal static Tensor Soft(SceneBox box, double feather, long height, long width)
    {
        using var scope = NewDisposeScope();
        var rows = Ramp(box.Y0, box.Y1, feather, height);   // [H]
        var columns = Ramp(box.X0, box.X1, feather, width); // [W]
        return outer(rows, columns).MoveToOuterDisposeScope(); // [H, W]
    }

    private static Tensor Ramp(double from, double to, double feather, long size)
    {
        var centres = (arange(size, float64) + 0.5) / size; // [size]
        if (feather <= 0)
            return ((centres >= from) & (centres < to)).to(float64);
        var rising = from <= 0 ? ones_like(centres) : ((centres - from) / feather + 0.5).clamp(0, 1);
        var falling = to >= 1 ? ones_like(centres) : ((to - centres) / feather + 0.5).clamp(0, 1);
        return rising * falling;
    }
}
