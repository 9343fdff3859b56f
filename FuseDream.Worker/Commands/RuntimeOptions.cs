using System.CommandLine;
using FuseDream.Models;
using FuseDream.Worker;
using TorchSharp;

namespace FuseDream.Worker.Commands;

/// <summary>
/// The <c>--device</c> and <c>--threads</c> options, defined once for every command that runs
/// tensors: the same names, the same values (see <see cref="DeviceSelector"/>), the same messages.
/// A command picks its default device; <c>bench biggan</c> also takes <c>all</c>. Commands that
/// can run the models in bf16 add <see cref="CreatePrecisionOption"/> (or <see cref="CreatePrecisionsOption"/>).
/// </summary>
public sealed class RuntimeOptions
{
    /// <summary>The value of <see cref="Device"/> that asks for the CPU and CUDA in turn (where allowed).</summary>
    public const string AllDevices = "all";

    private readonly bool _allowAll;

    public RuntimeOptions(string defaultDevice = DeviceSelector.Auto, bool allowAll = false)
    {
        _allowAll = allowAll;
        Device = new Option<string>("--device", "-d")
        {
            Description = "cpu, cuda, cuda:N or auto (CUDA when available)" + (allowAll ? ", or all (the CPU, then CUDA when present)." : "."),
            DefaultValueFactory = _ => defaultDevice,
        };
        Threads = new Option<int?>("--threads")
        {
            Description = "CPU threads for tensor work (default: the cores this process may use; 0: libtorch's choice).",
        };
    }

    public Option<string> Device { get; }

    public Option<int?> Threads { get; }

    public void AddTo(Command command)
    {
        command.Options.Add(Device);
        command.Options.Add(Threads);
    }

    /// <summary>The device name given, with <c>auto</c> resolved (<c>all</c> stays <c>all</c>).</summary>
    public string DeviceName(ParseResult parse)
    {
        var name = parse.GetValue(Device)!;
        return _allowAll && name == AllDevices ? name : DeviceSelector.Resolve(name);
    }

    /// <summary>The device given; throws <see cref="ArgumentException"/> beginning <c>--device:</c> when it is not usable.</summary>
    public TorchSharp.torch.Device ParseDevice(ParseResult parse)
    {
        try { return DeviceSelector.Parse(parse.GetValue(Device)); }
        catch (ArgumentException ex) { throw new ArgumentException($"--device: {ex.Message}"); }
    }

    /// <summary>
    /// Sets libtorch's CPU thread count: <c>--threads</c> when given (0 keeps libtorch's choice),
    /// else the cores this process may use (<see cref="TorchThreads.Default"/>).
    /// </summary>
    public void ApplyThreads(ParseResult parse)
    {
        var n = parse.GetValue(Threads);
        if (n < 0) throw new ArgumentException($"--threads must be at least 1, or 0 for libtorch's choice (got {n})");
        TorchThreads.Apply(n);
    }

    /// <summary><c>--precision</c> for a command that runs once (<c>generate</c>); <c>auto</c> is the device's default (<see cref="ModelPrecision.DefaultFor"/>).</summary>
    public static Option<string> CreatePrecisionOption() => new("--precision")
    {
        Description = "What the models compute in: fp32 (exact), bf16, or auto (the device's default: bf16 on CUDA and on a CPU with avx512_bf16 or AMX, else fp32).",
        DefaultValueFactory = _ => ModelPrecision.Auto,
    };

    /// <summary><c>--precision</c> for a benchmark that measures each precision given in turn.</summary>
    public static Option<string[]> CreatePrecisionsOption() => new("--precision")
    {
        Description = "Precisions to measure, each in turn: fp32, bf16 or auto (the device's default: bf16 on CUDA and on a CPU with avx512_bf16 or AMX, else fp32).",
        DefaultValueFactory = _ => [ModelPrecision.Auto],
        AllowMultipleArgumentsPerToken = true,
    };

    /// <summary>The precision named by <paramref name="option"/> on <paramref name="device"/>; throws <see cref="ArgumentException"/> beginning <c>--precision:</c>.</summary>
    public static Precision ParsePrecision(ParseResult parse, Option<string> option, TorchSharp.torch.Device device) =>
        ChoosePrecision(parse, option, device).Precision;

    /// <summary><see cref="ParsePrecision"/> with the reason it was chosen (what <c>auto</c> resolved to and why).</summary>
    public static PrecisionChoice ChoosePrecision(ParseResult parse, Option<string> option, TorchSharp.torch.Device device)
    {
        try { return ModelPrecision.Choose(parse.GetValue(option), device); }
        catch (ArgumentException ex) { throw new ArgumentException($"--precision: {ex.Message}"); }
    }

    /// <summary>The precisions named by <paramref name="option"/> on <paramref name="device"/>; throws <see cref="ArgumentException"/> beginning <c>--precision:</c>.</summary>
    public static Precision[] ParsePrecisions(ParseResult parse, Option<string[]> option, TorchSharp.torch.Device device)
    {
        try { return [.. (parse.GetValue(option) ?? [ModelPrecision.Auto]).Select(p => ModelPrecision.Resolve(p, device)).Distinct()]; }
        catch (ArgumentException ex) { throw new ArgumentException($"--precision: {ex.Message}"); }
    }
}
