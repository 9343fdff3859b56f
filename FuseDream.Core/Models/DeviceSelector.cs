using TorchSharp;
using static TorchSharp.torch;

namespace FuseDream.Models;

/// <summary>
/// Turns a device name into a libtorch device, the same way for every process and command:
/// <c>auto</c> (CUDA when this process can use it, else the CPU), <c>cpu</c>, <c>cuda</c> or
/// <c>cuda:N</c>; and picks each worker thread's device from the <c>Models:Device</c> setting.
/// </summary>
public static class DeviceSelector
{
    public const string Auto = "auto";

    /// <summary>The values <c>Models:Device</c> accepts (worker thread i goes to <c>cuda:i</c>, so no index).</summary>
    private static readonly IReadOnlyList<string> WorkerSettings = [Auto, "cpu", "cuda"];

    /// <summary><c>auto</c> → <c>cuda</c> or <c>cpu</c>; any other name as given.</summary>
    public static string Resolve(string name) =>
        string.Equals(name, Auto, StringComparison.OrdinalIgnoreCase) ? (cuda.is_available() ? "cuda" : "cpu") : name;

    /// <summary>
    /// The device <paramref name="name"/> names (empty: the CPU). Throws <see cref="ArgumentException"/>
    /// saying what is accepted, or that CUDA was asked for where there is none.
    /// </summary>
    public static Device Parse(string? name)
    {
        if (string.IsNullOrWhiteSpace(name)) return CPU;
        var resolved = Resolve(name);
        // Checked before libtorch sees the name: a CPU-only libtorch refuses "cuda" as if it were no device at all.
        if (IsCudaName(resolved) && !cuda.is_available())
            throw new ArgumentException($"Device: '{name}' asked for CUDA, but no CUDA device is available (is this the GPU build, with a GPU visible?); use cpu");
        try { return torch.device(resolved); }
        catch (Exception ex)
        {
            throw new ArgumentException($"Device: '{name}' is not a device; use cpu, cuda or cuda:N", ex);
        }
    }

    private static bool IsCudaName(string name) =>
        name == "cuda" || (name.StartsWith("cuda:", StringComparison.Ordinal) && name.Length > 5 && name[5..].All(char.IsAsciiDigit));

    /// <summary>The problem with a <c>Models:Device</c> setting, or null when it is one of <see cref="WorkerSettings"/>.</summary>
    public static string? CheckWorkerSetting(string setting, string settingName) =>
        WorkerSettings.Contains(setting) ? null : $"{settingName} must be auto, cpu or cuda (got '{setting}').";

    /// <summary>
    /// The device of worker thread <paramref name="workerIndex"/> under the <c>Models:Device</c>
    /// <paramref name="setting"/>: one GPU per thread (<c>cuda:i</c>), or the CPU.
    /// </summary>
    public static string ForWorker(string setting, int workerIndex)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(workerIndex);
        var useCuda = setting switch
        {
            "cpu" => false,
            "cuda" => true,
            Auto => cuda.is_available(),
            _ => throw new ArgumentException(CheckWorkerSetting(setting, "Models:Device (env Models__Device)"), nameof(setting)),
        };
        if (!useCuda) return "cpu";
        var count = cuda.is_available() ? cuda.device_count() : 0;
        if (workerIndex >= count)
            throw new InvalidOperationException(
                $"Worker:Count asks for worker thread {workerIndex + 1}, but only {count} CUDA device(s) are visible: set Worker:Count (env Worker__Count) to at most {count}.");
        return $"cuda:{workerIndex}";
    }
}
