using System.Globalization;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace FuseDream.Models;

/// <summary>
/// Memory a device has free for new tensors. TorchSharp 0.107 exposes no allocator statistics
/// and no <c>torch.cuda.mem_get_info</c>, so CUDA asks the CUDA runtime (<c>cudaMemGetInfo</c>,
/// the call behind PyTorch's <c>mem_get_info</c>) and the CPU reads the kernel's estimate.
/// </summary>
public static class DeviceMemory
{
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int CudaMemGetInfo(out nuint free, out nuint total);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int CudaGetDevice(out int device);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int CudaSetDevice(int device);

    /// <summary>Bytes free for new tensors on <paramref name="device"/>, or null when it cannot be told.</summary>
    public static long? Available(Device device)
    {
        ArgumentNullException.ThrowIfNull(device);
        return device.type == DeviceType.CUDA ? CudaFree(Math.Max(0, device.index)) : CpuAvailable();
    }

    /// <summary>
    /// The CPU's: <c>MemAvailable</c> of <c>/proc/meminfo</c>, lowered to what the cgroup v2
    /// limit (<c>memory.max</c> − <c>memory.current</c>) leaves in a container; elsewhere what
    /// .NET's GC counts as available to the process.
    /// </summary>
    internal static long? CpuAvailable()
    {
        long? available = null;
        try
        {
            if (File.Exists("/proc/meminfo")) available = MemAvailable(File.ReadAllText("/proc/meminfo"));
            if (File.Exists("/sys/fs/cgroup/memory.max") && File.Exists("/sys/fs/cgroup/memory.current")
                && long.TryParse(File.ReadAllText("/sys/fs/cgroup/memory.max").Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var max)
                && long.TryParse(File.ReadAllText("/sys/fs/cgroup/memory.current").Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var current))
                available = Math.Min(available ?? long.MaxValue, Math.Max(0, max - current));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { }
        if (available is not null) return available;
        var gc = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        return gc > 0 ? gc : null;
    }

    /// <summary>The <c>MemAvailable</c> line of a <c>/proc/meminfo</c> text, in bytes; null when absent.</summary>
    internal static long? MemAvailable(string meminfo)
    {
        foreach (var line in meminfo.Split('\n'))
        {
            if (!line.StartsWith("MemAvailable:", StringComparison.Ordinal)) continue;
            var parts = line["MemAvailable:".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 2 && parts[1] == "kB" && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var kib))
                return kib * 1024;
        }
        return null;
    }

    /// <summary>Free memory of CUDA device <paramref name="index"/> from the CUDA runtime; null when it cannot be reached.</summary>
    internal static long? CudaFree(int index) => Cuda(index)?.Free;

    /// <summary>
    /// Free and total bytes of CUDA device <paramref name="index"/> (null: the calling thread's
    /// current device, which is otherwise restored afterwards), from the CUDA runtime's
    /// <c>cudaMemGetInfo</c>; null when the runtime cannot be reached. The benchmarks' device-memory
    /// figures read it too.
    /// </summary>
    public static (long Free, long Total)? Cuda(int? index = null)
    {
        foreach (var name in new[] { "libcudart.so.12", "libcudart.so.13", "libcudart.so", "cudart64_12.dll" })
        {
            if (!NativeLibrary.TryLoad(name, typeof(DeviceMemory).Assembly, null, out var library)) continue;
            if (!NativeLibrary.TryGetExport(library, "cudaMemGetInfo", out var memGetInfo)
                || !NativeLibrary.TryGetExport(library, "cudaGetDevice", out var getDevice)
                || !NativeLibrary.TryGetExport(library, "cudaSetDevice", out var setDevice)) continue;
            var info = Marshal.GetDelegateForFunctionPointer<CudaMemGetInfo>(memGetInfo);
            if (index is null)
                return info(out var free, out var total) == 0 ? ((long)free, (long)total) : null;
            var get = Marshal.GetDelegateForFunctionPointer<CudaGetDevice>(getDevice);
            var set = Marshal.GetDelegateForFunctionPointer<CudaSetDevice>(setDevice);
            if (get(out var previous) != 0 || set(index.Value) != 0) continue;
            try
            {
                if (info(out var free, out var total) == 0) return ((long)free, (long)total);
            }
            finally { set(previous); }
        }
        return null;
    }
}
