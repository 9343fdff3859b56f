namespace FuseDream.Worker.Commands;

/// <summary>
/// Memory figures for the BigGAN benchmark. TorchSharp 0.107 exposes no allocator statistics,
/// so the CPU figure is the kernel's peak resident set (reset per measurement through
/// /proc/self/clear_refs) and the CUDA figure is the device memory in use (cudaMemGetInfo), which
/// the caching allocator keeps after a run: an upper bound of the run's peak allocation.
/// </summary>
internal static class MemoryProbe
{
    /// <summary>Resets the kernel's peak-RSS mark (Linux); elsewhere the peak is the process lifetime's.</summary>
    public static void ResetPeak()
    {
        try { File.WriteAllText("/proc/self/clear_refs", "5"); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { }
    }

    /// <summary>Peak resident set since the last <see cref="ResetPeak"/> (VmHWM), MiB.</summary>
    public static double PeakRssMiB()
    {
        if (File.Exists("/proc/self/status"))
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (!line.StartsWith("VmHWM:", StringComparison.Ordinal)) continue;
                var kib = long.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
                return kib / 1024.0;
            }
        }
        return System.Diagnostics.Process.GetCurrentProcess().PeakWorkingSet64 / (1024.0 * 1024.0);
    }

    /// <summary>Device memory in use (total − free) on the current CUDA device, MiB; NaN when the CUDA runtime cannot be reached.</summary>
    public static double CudaUsedMiB() =>
        FuseDream.Models.DeviceMemory.Cuda() is { } memory ? (memory.Total - memory.Free) / (1024.0 * 1024.0) : double.NaN;
}
