using System.Collections.Concurrent;
using TorchSharp;
using static TorchSharp.torch;

namespace FuseDream.Generation;

/// <summary>
/// Bilinear resampling with <c>align_corners=False</c> and no antialiasing (the original's
/// <c>F.interpolate(..., mode='bilinear')</c>), written as two separable blends of gathered
/// rows and columns. The weights follow PyTorch 1.13's CPU kernel, which the fixtures come
/// from: the scale in/out is rounded to the tensor's precision (float for float32), the source
/// coordinate <c>scale·(i + 0.5) − 0.5</c> is then computed in float64. libtorch 2.10's kernel
/// rounds that coordinate to float32, which moves outputs by up to ~6e-6 — more than the
/// fixtures allow. Differentiable, and the same on every device.
/// </summary>
internal static class BilinearResize
{
    /// <summary>Resizes <c>x</c> [batch, channels, height, width] to [batch, channels, <paramref name="height"/>, <paramref name="width"/>].</summary>
    public static Tensor Resize(Tensor x, long height, long width)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.dim() != 4)
            throw new ArgumentException($"expected an image batch [batch, channels, height, width], got shape [{string.Join(", ", x.shape)}]", nameof(x));
        if (height < 1 || width < 1)
            throw new ArgumentOutOfRangeException(nameof(height), $"output size must be positive (got {height}×{width})");
        using var scope = NewDisposeScope();
        var rows = ResizeAxis(x, 2, height);  // [batch, channels, height', width]
        var both = ResizeAxis(rows, 3, width); // [batch, channels, height', width']
        return both.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// libtorch's fused bilinear <c>interpolate</c> (<c>align_corners=False</c>, no antialias) and
    /// its backward: one kernel per direction instead of gathers and blends. Its source coordinate
    /// is rounded to float32 (PyTorch ≥ 2 kernels), so outputs differ from <see cref="Resize"/> by
    /// a few 1e-6 (bounded by a test); production may use it (<see cref="PipelineTuning.FusedResize"/>),
    /// the parity tests use the exact path.
    /// </summary>
    public static Tensor ResizeFused(Tensor x, long height, long width)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.dim() != 4)
            throw new ArgumentException($"expected an image batch [batch, channels, height, width], got shape [{string.Join(", ", x.shape)}]", nameof(x));
        if (height < 1 || width < 1)
            throw new ArgumentOutOfRangeException(nameof(height), $"output size must be positive (got {height}×{width})");
        if (x.shape[2] == height && x.shape[3] == width) return x.alias();
        return nn.functional.interpolate(x, [height, width], mode: InterpolationMode.Bilinear, align_corners: false);
    }

    private static Tensor ResizeAxis(Tensor x, int dim, long outSize)
    {
        var inSize = x.shape[dim];
        if (inSize == outSize) return x.alias();
        var (index0, index1, w0, w1) = CachedTaps(x.device, x.dtype, dim, inSize, outSize);
        return x.index_select(dim, index0) * w0 + x.index_select(dim, index1) * w1;
    }

    // Taps as tensors, made once per device, type, axis and size pair: a resize then copies no
    // index or weight arrays to the device. The augmentation's ratios give at most a few hundred
    // size pairs per image size, each a few kilobytes.
    private static readonly ConcurrentDictionary<(string Device, ScalarType Type, int Dim, long In, long Out), (Tensor Index0, Tensor Index1, Tensor W0, Tensor W1)> TapCache = new();

    private static readonly ConcurrentDictionary<(string Device, ScalarType Type, long In, long Low, long High), bool> Prepared = new();

    private static readonly Lock TapLock = new();
    [ThreadStatic] private static int _cachedOnThisThread;

    /// <summary>
    /// Tensors this thread added to the tap cache (four per size pair): tests that count this
    /// thread's live tensors leave them out, since they are kept for the process's life.
    /// </summary>
    internal static int CachedTensorsMadeOnThisThread => _cachedOnThisThread;

    /// <summary>
    /// Makes the taps of every resize of a <paramref name="inSize"/>-square image to sizes
    /// <paramref name="low"/> … <paramref name="high"/> at once (the resize augmentation's whole
    /// range), so the cache is complete after the first call rather than growing step by step.
    /// </summary>
    public static void Prepare(Device device, ScalarType type, long inSize, long low, long high)
    {
        if (!Prepared.TryAdd((device.ToString(), type, inSize, low, high), true)) return;
        for (var outSize = Math.Max(1, low); outSize <= high; outSize++)
        {
            if (outSize == inSize) continue;
            CachedTaps(device, type, 2, inSize, outSize);
            CachedTaps(device, type, 3, inSize, outSize);
        }
    }

    private static (Tensor Index0, Tensor Index1, Tensor W0, Tensor W1) CachedTaps(Device device, ScalarType type, int dim, long inSize, long outSize)
    {
        var key = (device.ToString(), type, dim, inSize, outSize);
        if (TapCache.TryGetValue(key, out var known)) return known;
        // Made under a lock, so that two threads never both make (and one leak) the same taps.
        lock (TapLock)
        {
            if (TapCache.TryGetValue(key, out known)) return known;
            var (first, second, weightSecond) = Taps(inSize, outSize, singlePrecisionScale: type != ScalarType.Float64);
            var shape = new long[] { 1, 1, 1, 1 };
            shape[dim] = outSize;
            using var scope = NewDisposeScope();
            var index0 = tensor(first, device: device);
            var index1 = tensor(second, device: device);
            var w1 = tensor(weightSecond, device: device).to(type).view(shape);
            var w0 = 1 - w1;
            var made = (index0.DetachFromDisposeScope(), index1.DetachFromDisposeScope(), w0.DetachFromDisposeScope(), w1.DetachFromDisposeScope());
            TapCache[key] = made;
            _cachedOnThisThread += 4;
            return made;
        }
    }

    /// <summary>PyTorch's <c>area_pixel_compute_scale</c>, <c>area_pixel_compute_source_index</c> and <c>compute_source_index_and_lambda</c>.</summary>
    internal static (long[] First, long[] Second, double[] WeightSecond) Taps(long inSize, long outSize, bool singlePrecisionScale)
    {
        var scale = singlePrecisionScale ? (float)inSize / outSize : (double)inSize / outSize;
        var first = new long[outSize];
        var second = new long[outSize];
        var weight = new double[outSize];
        for (long i = 0; i < outSize; i++)
        {
            var source = Math.Max(0.0, scale * (i + 0.5) - 0.5);
            var i0 = (long)source;
            first[i] = i0;
            second[i] = i0 < inSize - 1 ? i0 + 1 : i0;
            weight[i] = source - i0;
        }
        return (first, second, weight);
    }
}
