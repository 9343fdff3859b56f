using System.Globalization;
using FuseDream.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace FuseDream.Generation;

/// <summary>A basis batch size and where it came from (e.g. <c>16 (half of 9.3 GiB available at 150 MiB a sample, capped at 16)</c>).</summary>
public sealed record BasisBatchChoice(int Size, string Reason)
{
    public override string ToString() => $"{Size.ToString(CultureInfo.InvariantCulture)} ({Reason})";
}

/// <summary>
/// Chooses <see cref="PipelineTuning.BasisBatchSize"/> when it is left to the pipeline (0): as
/// many samples per batch as half the device's available memory holds at the per-sample cost of
/// the largest generator loaded, rounded down to a power of two and capped. Basis search runs
/// under <c>no_grad</c> (no graph is kept), so its memory is the batch's activations alone. The
/// batch size changes speed and memory only: <see cref="BasisSearch"/> draws the samples one
/// iteration at a time whatever the batch size, so the same seed keeps the same samples in the
/// same order (<c>BasisBatchSizingTests</c> checks the image is the same). The choice is made
/// once, when the pipeline is built, so a worker keeps one batch size for all its runs.
/// </summary>
public static class BasisBatchSizing
{
    /// <summary>
    /// At most this many samples per batch on the CPU, where a larger batch is no faster per sample:
    /// on the 2-core development VM (bf16, 2 threads, BigGAN-256 + ViT-B/32, idle, Release) batches of
    /// 4 gave 1.66 samples/s (median of 3 runs), of 8 1.51, of 10 1.62 and of 16 1.40.
    /// </summary>
    public const int CpuCap = 4;

    /// <summary>At most this many samples per batch on CUDA.</summary>
    public const int CudaCap = 64;

    /// <summary>
    /// Assumed free device memory on CUDA when the CUDA runtime cannot be asked (4 GiB: what
    /// remains on a 16 GB card after the models and the optimiser's working set).
    /// </summary>
    public const long CudaFallbackBytes = 4L << 30;

    /// <summary>Assumed available memory on the CPU when the system does not say (4 GiB).</summary>
    public const long CpuFallbackBytes = 4L << 30;

    private const long MiB = 1 << 20;

    /// <summary>
    /// Memory one more sample adds to a <c>no_grad</c> basis batch at <paramref name="resolution"/>
    /// (BigGAN forward, fp32, plus CLIP's scoring, which is small beside it). Source: peak RSS
    /// from <c>bench biggan -r 256 512 -b 1 4 --forward-only --repeats 1 --warmup 0 --device cpu</c>
    /// (the <c>MemoryProbe</c> VmHWM figures, full-size G_ch 96, random weights, 2026-11-29):
    /// 256: 684 MiB at batch 1, 1131 MiB at batch 4, so 149 MiB a sample; 512: 938 and
    /// 1898 MiB, so 320 MiB a sample. Rounded up by about a quarter for CLIP, the resize and
    /// allocator slack. Smaller resolutions: the 256 figure scaled by area.
    /// bf16 halves the activations, so the fp32 figure is a safe bound for both precisions; CUDA's
    /// activations are the same tensors.
    /// </summary>
    public static long BytesPerSample(int resolution) => resolution switch
    {
        <= 128 => 48 * MiB,
        <= 256 => 192 * MiB,
        _ => 400 * MiB,
    };

    /// <summary>
    /// The batch size for a pipeline whose largest generator renders <paramref name="resolution"/>
    /// on <paramref name="device"/>, counting on <paramref name="share"/> of the device's
    /// available memory (worker threads sharing one CPU split it).
    /// </summary>
    public static BasisBatchChoice Choose(int resolution, Device device, double share = 1.0)
    {
        ArgumentNullException.ThrowIfNull(device);
        var cuda = device.type == DeviceType.CUDA;
        var available = DeviceMemory.Available(device);
        var source = available is null ? (cuda ? "assumed (CUDA runtime not reachable)" : "assumed (system did not say)") : "available";
        return FromMemory(available ?? (cuda ? CudaFallbackBytes : CpuFallbackBytes), source, resolution, cuda ? CudaCap : CpuCap, share);
    }

    /// <summary>Half of <paramref name="availableBytes"/> × <paramref name="share"/> over the per-sample cost, rounded down to a power of two, between 1 and <paramref name="cap"/>.</summary>
    internal static BasisBatchChoice FromMemory(long availableBytes, string source, int resolution, int cap, double share = 1.0)
    {
        if (share is <= 0 or > 1) throw new ArgumentOutOfRangeException(nameof(share), share, "must be in (0, 1]");
        var budget = (long)(availableBytes / 2 * share);
        var perSample = BytesPerSample(resolution);
        var fits = budget / perSample;
        var size = 1;
        while (size * 2 <= Math.Min(fits, cap)) size *= 2;
        var shared = share < 1 ? $" × {share.ToString("0.##", CultureInfo.InvariantCulture)} share" : "";
        var limit = fits >= cap ? $", capped at {cap}" : fits < 1 ? ", at least 1" : "";
        return new(size, $"half of {Gib(availableBytes)} {source}{shared} at {perSample / MiB} MiB a sample at {resolution}{limit}");
    }

    private static string Gib(long bytes) => $"{(bytes / (double)(1L << 30)).ToString("0.0", CultureInfo.InvariantCulture)} GiB";
}
