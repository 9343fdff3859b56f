using System.Runtime.InteropServices;
using TorchSharp;

namespace FuseDream.Models;

/// <summary>
/// Whether this CPU does bf16 arithmetic natively (x86 <c>avx512_bf16</c> or AMX), which is
/// when libtorch's bf16 kernels pay (about 2.5× faster than fp32 per basis batch on such a
/// CPU; see docs/generation.md). The answer comes from libtorch itself where it can:
/// <c>at::cpu::is_avx512_bf16_supported()</c> and <c>at::cpu::is_amx_tile_supported()</c>
/// (what PyTorch's <c>torch.cpu._is_avx512_bf16_supported</c> calls; TorchSharp 0.107 binds
/// neither, so they are looked up in <c>libtorch_cpu.so</c> by their Itanium names). Where the
/// symbols cannot be found, the <c>flags</c> of <c>/proc/cpuinfo</c>; on other systems: none.
/// </summary>
internal static class CpuBf16
{
    /// <summary>The CPU feature that gives native bf16 (<c>avx512_bf16</c>, <c>amx_bf16</c>), or null.</summary>
    public static string? Feature => Detected.Value.Feature;

    /// <summary>Where <see cref="Feature"/> was read: libtorch's query or /proc/cpuinfo.</summary>
    public static string Source => Detected.Value.Source;

    private static readonly Lazy<(string? Feature, string Source)> Detected = new(Detect);

    // at::cpu::is_avx512_bf16_supported(), at::cpu::is_amx_tile_supported(): bool f(), no arguments.
    internal const string Avx512Bf16Symbol = "_ZN2at3cpu24is_avx512_bf16_supportedEv";
    internal const string AmxTileSymbol = "_ZN2at3cpu21is_amx_tile_supportedEv";

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate byte BoolQuery();

    private static (string? Feature, string Source) Detect()
    {
        if (!OperatingSystem.IsLinux()) return (null, "not Linux");
        if (QueryLibtorch() is { } fromTorch) return fromTorch;
        try { return (FromCpuInfo(File.ReadAllText("/proc/cpuinfo")), "/proc/cpuinfo"); }
        catch (IOException) { return (null, "/proc/cpuinfo unreadable"); }
        catch (UnauthorizedAccessException) { return (null, "/proc/cpuinfo unreadable"); }
    }

    /// <summary>libtorch's answer (its source: <c>libtorch</c>), or null when its library or symbols cannot be found.</summary>
    internal static (string? Feature, string Source)? QueryLibtorch()
    {
        try
        {
            if (!torch.TryInitializeDeviceType(DeviceType.CPU)) return null;
            // Already loaded by TorchSharp: dlopen by its soname returns that copy.
            if (!NativeLibrary.TryLoad("libtorch_cpu.so", out var library)) return null;
            if (!NativeLibrary.TryGetExport(library, Avx512Bf16Symbol, out var avx512Bf16)) return null;
            if (Marshal.GetDelegateForFunctionPointer<BoolQuery>(avx512Bf16)() != 0) return ("avx512_bf16", "libtorch");
            // Every CPU with AMX so far also has avx512_bf16; AMX alone is named for what it is.
            if (NativeLibrary.TryGetExport(library, AmxTileSymbol, out var amx) && Marshal.GetDelegateForFunctionPointer<BoolQuery>(amx)() != 0)
                return ("amx_bf16", "libtorch");
            return (null, "libtorch");
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException or TypeInitializationException or InvalidOperationException or NotSupportedException)
        {
            return null;
        }
    }

    /// <summary>
    /// The native bf16 feature named in a <c>/proc/cpuinfo</c> text: <c>avx512_bf16</c> or
    /// <c>amx_bf16</c> among the <c>flags</c> of every processor listed (a feature one core
    /// lacks is not used), else null.
    /// </summary>
    internal static string? FromCpuInfo(string cpuInfo)
    {
        ArgumentNullException.ThrowIfNull(cpuInfo);
        HashSet<string>? common = null;
        foreach (var line in cpuInfo.Split('\n'))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0 || !line[..colon].Trim().Equals("flags", StringComparison.Ordinal)) continue;
            var flags = line[(colon + 1)..].Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
            if (common is null) common = flags;
            else common.IntersectWith(flags);
        }
        if (common is null) return null;
        if (common.Contains("avx512_bf16")) return "avx512_bf16";
        return common.Contains("amx_bf16") ? "amx_bf16" : null;
    }
}
