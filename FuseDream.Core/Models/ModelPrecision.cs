using TorchSharp;
using static TorchSharp.torch;

namespace FuseDream.Models;

/// <summary>The number format the frozen models compute in.</summary>
public enum Precision
{
    /// <summary>float32 weights and activations: exact, what every parity test runs.</summary>
    Fp32,

    /// <summary>
    /// bfloat16 weights and activations for BigGAN and CLIP; latents, loss and Adam state stay
    /// float32 (the models take float32 in and give float32 out). On CUDA, float32 matmuls that
    /// remain may use TF32.
    /// </summary>
    Bf16,
}

/// <summary>
/// Names, defaults and the conversion of <see cref="Precision"/>. TorchSharp 0.107 has no
/// autocast, so reduced precision is explicit: the modules are converted once
/// (<see cref="ApplyTo"/>) and <c>BigGanGenerator.Generate</c> and <c>ClipModel.EncodeImage</c>
/// cast their float32 inputs to the weights' type and their outputs back to float32.
/// </summary>
public static class ModelPrecision
{
    public const string Auto = "auto";

    /// <summary>The values <c>Models:Precision</c> and <c>--precision</c> accept.</summary>
    public static readonly IReadOnlyList<string> Names = [Auto, "fp32", "bf16"];

    public static string Name(Precision precision) => precision switch
    {
        Precision.Fp32 => "fp32",
        Precision.Bf16 => "bf16",
        _ => throw new ArgumentOutOfRangeException(nameof(precision), precision, "unknown precision"),
    };

    /// <summary>
    /// The default for a device (what <c>auto</c> means): bf16 on CUDA (tensor cores), and on a
    /// CPU with native bf16 arithmetic (<c>avx512_bf16</c> or AMX, see <see cref="CpuBf16"/>:
    /// there bf16 runs a basis batch about 2.5× faster, and its effect on the outcome is below
    /// seed-to-seed noise, see docs/generation.md); fp32 on other CPUs (libtorch emulates bf16
    /// there, which does not pay, and fp32 keeps CPU results exact).
    /// </summary>
    public static Precision DefaultFor(Device device) => ChooseDefault(device).Precision;

    /// <summary><see cref="DefaultFor"/> with the reason, e.g. <c>bf16: CPU has avx512_bf16</c>.</summary>
    public static PrecisionChoice ChooseDefault(Device device) => ChooseDefault(device, CpuBf16.Feature);

    /// <summary><see cref="ChooseDefault(Device)"/> for a CPU whose native bf16 feature is <paramref name="cpuBf16Feature"/> (null: none).</summary>
    internal static PrecisionChoice ChooseDefault(Device device, string? cpuBf16Feature)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (device.type == DeviceType.CUDA) return new(Precision.Bf16, "auto on CUDA");
        return cpuBf16Feature is null
            ? new(Precision.Fp32, "auto on a CPU without native bf16 (no avx512_bf16 or amx_bf16)")
            : new(Precision.Bf16, $"auto: CPU has {cpuBf16Feature}");
    }

    /// <summary>
    /// <paramref name="name"/> (<c>auto</c>, <c>fp32</c>, <c>bf16</c>; case-insensitive) on
    /// <paramref name="device"/>: <c>auto</c> (or empty) is <see cref="DefaultFor"/>. Throws
    /// <see cref="ArgumentException"/> naming the accepted values.
    /// </summary>
    public static Precision Resolve(string? name, Device device) => Choose(name, device).Precision;

    /// <summary><see cref="Resolve"/> with the reason: the device's default and why, or the setting that asked for it.</summary>
    public static PrecisionChoice Choose(string? name, Device device)
    {
        if (string.IsNullOrWhiteSpace(name) || string.Equals(name.Trim(), Auto, StringComparison.OrdinalIgnoreCase)) return ChooseDefault(device);
        return name.Trim().ToLowerInvariant() switch
        {
            "fp32" => new(Precision.Fp32, "set explicitly"),
            "bf16" => new(Precision.Bf16, "set explicitly"),
            _ => throw new ArgumentException($"Precision: '{name}' is not a precision; use auto, fp32 or bf16"),
        };
    }

    /// <summary>The problem with a <c>Models:Precision</c> setting, or null when it is one of <see cref="Names"/>.</summary>
    public static string? CheckSetting(string? setting, string settingName) =>
        string.IsNullOrWhiteSpace(setting) || Names.Contains(setting.Trim().ToLowerInvariant())
            ? null
            : $"{settingName} must be auto, fp32 or bf16 (got '{setting}').";

    /// <summary>The tensor type weights and activations take under <paramref name="precision"/>.</summary>
    public static ScalarType WeightType(Precision precision) =>
        precision == Precision.Bf16 ? ScalarType.BFloat16 : ScalarType.Float32;

    /// <summary>
    /// Converts a frozen model's floating-point parameters and buffers to <paramref name="precision"/>
    /// (fp32 leaves float32 weights as they are). With bf16 on CUDA, also lets libtorch run the
    /// remaining float32 matmuls and convolutions in TF32.
    /// </summary>
    public static void ApplyTo(nn.Module module, Precision precision)
    {
        ArgumentNullException.ThrowIfNull(module);
        if (precision == Precision.Fp32) return;
        module.to(WeightType(precision));
        if (module.parameters().FirstOrDefault() is { device_type: DeviceType.CUDA }) AllowTf32();
    }

    /// <summary>True for the reduced-precision float types whose models take and give float32.</summary>
    public static bool IsReduced(ScalarType type) => type is ScalarType.BFloat16 or ScalarType.Float16;

    private static void AllowTf32()
    {
        torch.backends.cuda.matmul.allow_tf32 = true;
        torch.backends.cudnn.allow_tf32 = true;
    }
}

/// <summary>A resolved <see cref="Precision"/> and why it was chosen; shown as <c>bf16 (auto: CPU has avx512_bf16)</c>.</summary>
public sealed record PrecisionChoice(Precision Precision, string Reason)
{
    public override string ToString() => $"{ModelPrecision.Name(Precision)} ({Reason})";
}
