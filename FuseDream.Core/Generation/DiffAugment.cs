using TorchSharp;
using static TorchSharp.torch;

namespace FuseDream.Generation;

/// <summary>
/// Differentiable augmentations, as FuseDream's <c>DiffAugment_pytorch.py</c> (Zhao et al.,
/// arXiv 2006.10738, with FuseDream's added resize): brightness, saturation, contrast,
/// translation (±1/8, zero fill), resize (×0.8–1.2, pad or centre-crop) and cutout (a
/// half-size square). Colour, translation and cutout draw per sample; resize draws one ratio
/// per call, as the original. The draws come from an <see cref="IRandomSource"/> in the
/// original's order, so recorded draws reproduce the original's outputs exactly.
/// Deliberate differences: translation and cutout are written with <c>gather</c> and
/// comparisons instead of advanced indexing (the values are identical); resize uses
/// <see cref="BilinearResize"/> for float64-exact interpolation weights.
/// </summary>
internal static class DiffAugment
{
    public const double TranslationRatio = 0.125;
    public const double CutoutRatio = 0.5;
    public const double MinResizeRatio = 0.8;
    public const double MaxResizeRatio = 1.2;

    /// <summary>Applies every augmentation of <paramref name="policy"/>, in order, to <c>x</c> [batch, channels, height, width].</summary>
    public static Tensor Apply(Tensor x, AugmentPolicy policy, IRandomSource random)
    {
        ArgumentNullException.ThrowIfNull(policy);
        EnsureImageBatch(x);
        using var draws = Draw(policy, x.shape[0], x.shape[2], x.shape[3], x.device, random);
        return Apply(x, draws, 0);
    }

    /// <summary>
    /// Every draw <see cref="Apply(Tensor, AugmentPolicy, IRandomSource)"/> makes for a batch of
    /// <paramref name="batch"/> images of <paramref name="height"/> × <paramref name="width"/>,
    /// in the same order. Drawn once for a whole batch and applied to slices of it
    /// (<see cref="Apply(Tensor, AugmentDraws, long, bool)"/>), a batch can be processed in parts with
    /// exactly the augmentations it would have had in one piece.
    /// </summary>
    public static AugmentDraws Draw(AugmentPolicy policy, long batch, long height, long width, Device device, IRandomSource random)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(random);
        var steps = new List<AugmentDraw>();
        using var scope = NewDisposeScope();
        foreach (var kind in policy.Steps)
        {
            switch (kind)
            {
                case AugmentKind.Color:
                    var brightness = random.Rand([batch, 1, 1, 1], device);
                    var saturation = random.Rand([batch, 1, 1, 1], device);
                    var contrast = random.Rand([batch, 1, 1, 1], device);
                    steps.Add(new AugmentDraw(kind, [brightness, saturation, contrast], 0));
                    break;
                case AugmentKind.Translation:
                    var (shiftX, shiftY) = ((long)(height * TranslationRatio + 0.5), (long)(width * TranslationRatio + 0.5));
                    var translationX = random.RandInt(-shiftX, shiftX + 1, [batch, 1, 1], device).view(batch, 1); // [batch, 1]
                    var translationY = random.RandInt(-shiftY, shiftY + 1, [batch, 1, 1], device).view(batch, 1);
                    steps.Add(new AugmentDraw(kind, [translationX, translationY], 0));
                    break;
                case AugmentKind.Resize:
                    steps.Add(new AugmentDraw(kind, [], random.UniformScalar() * (MaxResizeRatio - MinResizeRatio) + MinResizeRatio));
                    break;
                case AugmentKind.Cutout:
                    var (sizeX, sizeY) = ((long)(height * CutoutRatio + 0.5), (long)(width * CutoutRatio + 0.5));
                    var offsetX = random.RandInt(0, height + (1 - sizeX % 2), [batch, 1, 1], device).view(batch, 1); // [batch, 1]
                    var offsetY = random.RandInt(0, width + (1 - sizeY % 2), [batch, 1, 1], device).view(batch, 1);
                    steps.Add(new AugmentDraw(kind, [offsetX, offsetY], 0));
                    break;
                default:
                    throw new ArgumentOutOfRangeException(nameof(policy), kind, "unknown augmentation");
            }
        }
        foreach (var step in steps)
            foreach (var tensor in step.Tensors) tensor.MoveToOuterDisposeScope();
        return new AugmentDraws(batch, steps);
    }

    /// <summary>
    /// Applies <paramref name="draws"/> rows <paramref name="start"/> … <paramref name="start"/> + batch − 1
    /// to <c>x</c> [batch, channels, height, width]: the slice of the drawn batch that <c>x</c> is.
    /// </summary>
    public static Tensor Apply(Tensor x, AugmentDraws draws, long start, bool fusedResize = false)
    {
        ArgumentNullException.ThrowIfNull(draws);
        EnsureImageBatch(x);
        var n = x.shape[0];
        if (start < 0 || start + n > draws.Batch)
            throw new ArgumentOutOfRangeException(nameof(start), start, $"rows {start}..{start + n - 1} are outside the {draws.Batch} drawn");
        using var scope = NewDisposeScope();
        var result = x;
        foreach (var step in draws.Steps)
        {
            Tensor Rows(int i) => step.Tensors[i].narrow(0, start, n);
            result = step.Kind switch
            {
                AugmentKind.Color => ContrastBy(SaturationBy(BrightnessBy(result, Rows(0)), Rows(1)), Rows(2)),
                AugmentKind.Translation => TranslationBy(result, Rows(0), Rows(1)),
                AugmentKind.Resize => ResizeAt(result, step.Scalar, fusedResize),
                AugmentKind.Cutout => CutoutAt(result, Rows(0), Rows(1)),
                _ => throw new ArgumentOutOfRangeException(nameof(draws), step.Kind, "unknown augmentation"),
            };
        }
        return result.contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>x + (u − 0.5), one u per sample.</summary>
    public static Tensor Brightness(Tensor x, IRandomSource random) => BrightnessBy(x, random.Rand([x.shape[0], 1, 1, 1], x.device));

    private static Tensor BrightnessBy(Tensor x, Tensor draw)
    {
        using var scope = NewDisposeScope();
        var u = AsTypeOf(draw, x); // [batch, 1, 1, 1]
        return (x + (u - 0.5)).MoveToOuterDisposeScope();
    }

    /// <summary>Scales the distance from the per-pixel channel mean by 2u.</summary>
    public static Tensor Saturation(Tensor x, IRandomSource random) => SaturationBy(x, random.Rand([x.shape[0], 1, 1, 1], x.device));

    private static Tensor SaturationBy(Tensor x, Tensor draw)
    {
        using var scope = NewDisposeScope();
        var mean = x.mean([1], keepdim: true); // [batch, 1, height, width]
        var u = AsTypeOf(draw, x);
        return ((x - mean) * (u * 2) + mean).MoveToOuterDisposeScope();
    }

    /// <summary>Scales the distance from the per-image mean by u + 0.5.</summary>
    public static Tensor Contrast(Tensor x, IRandomSource random) => ContrastBy(x, random.Rand([x.shape[0], 1, 1, 1], x.device));

    private static Tensor ContrastBy(Tensor x, Tensor draw)
    {
        using var scope = NewDisposeScope();
        var mean = x.mean([1, 2, 3], keepdim: true); // [batch, 1, 1, 1]
        var u = AsTypeOf(draw, x);
        return ((x - mean) * (u + 0.5) + mean).MoveToOuterDisposeScope();
    }

    /// <summary>Shifts each sample by up to ±1/8 of its size on both axes, filling with zeros.</summary>
    public static Tensor Translation(Tensor x, IRandomSource random, double ratio = TranslationRatio)
    {
        EnsureImageBatch(x);
        using var scope = NewDisposeScope();
        long n = x.shape[0], h = x.shape[2], w = x.shape[3];
        var shiftX = (long)(h * ratio + 0.5);
        var shiftY = (long)(w * ratio + 0.5);
        var translationX = random.RandInt(-shiftX, shiftX + 1, [n, 1, 1], x.device).view(n, 1); // [batch, 1]
        var translationY = random.RandInt(-shiftY, shiftY + 1, [n, 1, 1], x.device).view(n, 1);
        return TranslationBy(x, translationX, translationY).MoveToOuterDisposeScope();
    }

    /// <summary>Shifts sample i by (translationX[i], translationY[i]) pixels, filling with zeros.</summary>
    private static Tensor TranslationBy(Tensor x, Tensor translationX, Tensor translationY)
    {
        using var scope = NewDisposeScope();
        long n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3];
        // The original pads one pixel of zeros and reads padded[i + t + 1], clamped to the padding.
        var padded = nn.functional.pad(x, [1, 1, 1, 1]); // [batch, channels, height + 2, width + 2]
        var rows = (arange(h, ScalarType.Int64, x.device).unsqueeze(0) + translationX + 1).clamp(0, h + 1); // [batch, height]
        var cols = (arange(w, ScalarType.Int64, x.device).unsqueeze(0) + translationY + 1).clamp(0, w + 1); // [batch, width]
        var shiftedRows = padded.gather(2, rows.view(n, 1, h, 1).expand(n, c, h, w + 2)); // [batch, channels, height, width + 2]
        var shifted = shiftedRows.gather(3, cols.view(n, 1, 1, w).expand(n, c, h, w)); // [batch, channels, height, width]
        return shifted.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Resizes the whole batch by one ratio in [0.8, 1.2) (bilinear, <c>align_corners=False</c>),
    /// then zero-pads back to the original size when smaller or centre-crops when larger.
    /// </summary>
    public static Tensor Resize(Tensor x, IRandomSource random)
    {
        EnsureImageBatch(x);
        var ratio = random.UniformScalar() * (MaxResizeRatio - MinResizeRatio) + MinResizeRatio;
        return ResizeAt(x, ratio);
    }

    /// <summary>The resize augmentation at a given ratio (the original's arithmetic, float64, truncating).</summary>
    public static Tensor ResizeAt(Tensor x, double ratio, bool fused = false)
    {
        EnsureImageBatch(x);
        using var scope = NewDisposeScope();
        var size = x.shape[3];
        var resizedSize = (long)(ratio * size);
        if (resizedSize < 1)
            throw new ArgumentOutOfRangeException(nameof(ratio), ratio, $"resize ratio {ratio} shrinks a {size}-pixel image to nothing");
        Tensor resized; // [batch, channels, s, s]
        if (fused) resized = BilinearResize.ResizeFused(x, resizedSize, resizedSize);
        else
        {
            BilinearResize.Prepare(x.device, x.dtype, size, (long)(MinResizeRatio * size), (long)(MaxResizeRatio * size));
            resized = BilinearResize.Resize(x, resizedSize, resizedSize);
        }
        Tensor result;
        if (resizedSize < size)
        {
            var left = (long)((size - resizedSize) / 2.0);
            var right = size - left - resizedSize;
            result = nn.functional.pad(resized, [left, right, left, right]);
        }
        else
        {
            var left = (long)((resizedSize - size) / 2.0);
            result = resized.narrow(2, left, size).narrow(3, left, size);
        }
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>Zeroes a square of half the image size at a random centre per sample (clipped at the border).</summary>
    public static Tensor Cutout(Tensor x, IRandomSource random, double ratio = CutoutRatio)
    {
        EnsureImageBatch(x);
        using var scope = NewDisposeScope();
        long n = x.shape[0], h = x.shape[2], w = x.shape[3];
        var sizeX = (long)(h * ratio + 0.5);
        var sizeY = (long)(w * ratio + 0.5);
        var offsetX = random.RandInt(0, h + (1 - sizeX % 2), [n, 1, 1], x.device).view(n, 1); // [batch, 1]
        var offsetY = random.RandInt(0, w + (1 - sizeY % 2), [n, 1, 1], x.device).view(n, 1);
        return CutoutAt(x, offsetX, offsetY, ratio).MoveToOuterDisposeScope();
    }

    /// <summary>Zeroes the square of <paramref name="ratio"/> × the image size centred at (offsetX[i], offsetY[i]) in sample i.</summary>
    private static Tensor CutoutAt(Tensor x, Tensor offsetX, Tensor offsetY, double ratio = CutoutRatio)
    {
        using var scope = NewDisposeScope();
        long h = x.shape[2], w = x.shape[3];
        var sizeX = (long)(h * ratio + 0.5);
        var sizeY = (long)(w * ratio + 0.5);
        // The original zeroes rows clamp(offset − size/2 + [0, size), 0, h − 1): that is exactly
        // the rows of [offset − size/2, offset − size/2 + size − 1] that lie inside the image.
        var firstRow = offsetX - sizeX / 2;
        var firstCol = offsetY - sizeY / 2;
        var rowIndex = arange(h, ScalarType.Int64, x.device).unsqueeze(0); // [1, height]
        var colIndex = arange(w, ScalarType.Int64, x.device).unsqueeze(0); // [1, width]
        var inRows = rowIndex.ge(firstRow).logical_and(rowIndex.le(firstRow + (sizeX - 1))); // [batch, height]
        var inCols = colIndex.ge(firstCol).logical_and(colIndex.le(firstCol + (sizeY - 1))); // [batch, width]
        var cut = inRows.unsqueeze(2).logical_and(inCols.unsqueeze(1)); // [batch, height, width]
        var mask = cut.logical_not().to(x.dtype).unsqueeze(1); // [batch, 1, height, width]
        return (x * mask).MoveToOuterDisposeScope();
    }

    private static Tensor AsTypeOf(Tensor u, Tensor x) => u.dtype == x.dtype ? u : u.to(x.dtype);

    private static void EnsureImageBatch(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.dim() != 4)
            throw new ArgumentException($"expected an image batch [batch, channels, height, width], got shape [{string.Join(", ", x.shape)}]", nameof(x));
    }
}

/// <summary>One family's draws for a whole batch: per-sample tensors (first dimension the batch) or one scalar.</summary>
internal sealed record AugmentDraw(AugmentKind Kind, IReadOnlyList<Tensor> Tensors, double Scalar);

/// <summary>The draws of one DiffAugment call over <see cref="Batch"/> images, in the original's order. Owns its tensors.</summary>
internal sealed class AugmentDraws(long batch, IReadOnlyList<AugmentDraw> steps) : IDisposable
{
    public long Batch { get; } = batch;
    public IReadOnlyList<AugmentDraw> Steps { get; } = steps;

    /// <summary>Every tensor of the draws, in order.</summary>
    public IEnumerable<Tensor> Tensors => Steps.SelectMany(step => step.Tensors);

    /// <summary>The same draws with <paramref name="moved"/> in place of <see cref="Tensors"/> (same order); takes ownership of them.</summary>
    public AugmentDraws With(IReadOnlyList<Tensor> moved)
    {
        var next = 0;
        var steps = Steps.Select(step => step with { Tensors = [.. step.Tensors.Select(_ => moved[next++])] }).ToList();
        if (next != moved.Count) throw new ArgumentException($"expected {next} tensors, got {moved.Count}", nameof(moved));
        return new AugmentDraws(Batch, steps);
    }

    public void Dispose()
    {
        foreach (var step in Steps)
            foreach (var tensor in step.Tensors) tensor.Dispose();
    }
}

/// <summary>One DiffAugment family; <see cref="Color"/> is brightness, saturation and contrast.</summary>
internal enum AugmentKind
{
    Color,
    Translation,
    Resize,
    Cutout,
}

/// <summary>An ordered list of augmentation families, written like the original's policy string.</summary>
internal sealed record AugmentPolicy
{
    /// <summary>FuseDream's policy for optimisation and measurement: colour, translation, resize, cutout.</summary>
    public static readonly AugmentPolicy FuseDream = Parse("color,translation,resize,cutout");

    private AugmentPolicy(IReadOnlyList<AugmentKind> steps) => Steps = steps;

    public IReadOnlyList<AugmentKind> Steps { get; }

    /// <summary>Parses a policy such as <c>color,translation,resize,cutout</c>; an empty string means no augmentation.</summary>
    public static AugmentPolicy Parse(string policy)
    {
        ArgumentNullException.ThrowIfNull(policy);
        var steps = new List<AugmentKind>();
        foreach (var raw in policy.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            steps.Add(raw.ToLowerInvariant() switch
            {
                "color" => AugmentKind.Color,
                "translation" => AugmentKind.Translation,
                "resize" => AugmentKind.Resize,
                "cutout" => AugmentKind.Cutout,
                _ => throw new ArgumentException($"unknown augmentation '{raw}' in policy '{policy}'; known: color, translation, resize, cutout", nameof(policy)),
            });
        }
        return new AugmentPolicy(steps);
    }

    public override string ToString() => string.Join(",", Steps.Select(s => s.ToString().ToLowerInvariant()));

    public bool Equals(AugmentPolicy? other) => other is not null && Steps.SequenceEqual(other.Steps);

    public override int GetHashCode() => Steps.Aggregate(17, (h, s) => h * 31 + (int)s);
}
