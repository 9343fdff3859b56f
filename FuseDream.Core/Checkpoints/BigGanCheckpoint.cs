using System.Globalization;
using FuseDream.BigGan;
using TorchSharp;
using static TorchSharp.torch;

namespace FuseDream.Checkpoints;

/// <summary>
/// BigGAN generator weights into a <see cref="BigGanGenerator"/>: <c>torch.save(G.state_dict())</c>
/// files (or safetensors) with the original's key names, or in the older TF-Hub port (v1) layout
/// converted as ajbrock's <c>convert_from_v1</c> does; loaded strictly except for the
/// spectral-norm <c>sv0</c> buffers, which released checkpoints lack and eval never reads.
/// TorchScript archives are refused: a generator file is never run through <c>jit.load</c>.
/// </summary>
public static class BigGanCheckpoint
{
    private static readonly string[] OptionalSuffixes = [".sv0"];

    /// <param name="config">The architecture; null reads it off the tensors' shapes.</param>
    /// <param name="device">Where to put the weights; null keeps them on the CPU.</param>
    public static BigGanGenerator Load(string path, BigGanConfig? config = null, Device? device = null)
    {
        var tensors = CheckpointReader.ReadTensors(path, allowTorchScript: false);
        try
        {
            return FromStateDict(tensors, config, device);
        }
        catch (InvalidDataException ex)
        {
            throw new InvalidDataException($"'{path}' is not a usable BigGAN generator checkpoint: {ex.Message}", ex);
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }

    /// <summary>
    /// Builds the generator from a state dict with the original's key names. Every key must be
    /// there and nothing else, except the <c>*.sv0</c> spectral-norm buffers, which may be absent.
    /// The tensors are copied (and converted to fp32); the caller keeps ownership of the dictionary.
    /// </summary>
    public static BigGanGenerator FromStateDict(IReadOnlyDictionary<string, Tensor> stateDict, BigGanConfig? config = null, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(stateDict);
        var layout = CheckpointLayouts.Detect(stateDict.Keys);
        if (layout == CheckpointLayout.BigGanV1)
        {
            var converted = LayoutConversion.For(layout, stateDict.ToDictionary(kv => kv.Key, kv => kv.Value.shape, StringComparer.Ordinal)).Apply(stateDict);
            try
            {
                return FromStateDict(converted, config, device);
            }
            finally
            {
                foreach (var t in converted.Values) t.Dispose();
            }
        }
        if (layout != CheckpointLayout.BigGanAjbrock && CheckpointLayouts.Kind(layout) == "clip")
            throw new InvalidDataException($"this is {CheckpointLayouts.Describe(layout)}, not a BigGAN generator.");
        config ??= BigGanConfig.InferFrom(stateDict);
        var generator = new BigGanGenerator(config);
        try
        {
            StateDictLoader.LoadStrict(generator, stateDict, OptionalSuffixes, mismatch => Describe(config, mismatch));
            Prepare(generator, device);
            return generator;
        }
        catch
        {
            generator.Dispose();
            throw;
        }
    }

    /// <summary>Divides every spectral-norm weight by its σ, freezes, and moves to the device: what loaded weights need before use.</summary>
    internal static void Prepare(BigGanGenerator generator, Device? device)
    {
        foreach (var (name, module) in generator.named_modules())
        {
            if (module is not ISpectralNormLayer layer) continue;
            layer.FoldSpectralNorm(generator.Config.SpectralNormEps);
            if (!float.IsFinite(layer.Sigma) || layer.Sigma <= 0)
                throw new InvalidDataException(
                    $"spectral norm of '{name}' is {layer.Sigma}; its weight or '{name}.u0' is zero or not finite.");
        }
        foreach (var parameter in generator.parameters())
            parameter.requires_grad_(false);
        generator.eval();
        if (device is not null && device.type != DeviceType.CPU)
            generator.to(device);
    }

    private static InvalidDataException Describe(BigGanConfig config, StateDictMismatch mismatch)
    {
        var problems = new List<string>();
        if (mismatch.Missing.Count > 0) problems.Add($"missing keys ({mismatch.Missing.Count}): {List(mismatch.Missing)}");
        if (mismatch.Unexpected.Count > 0) problems.Add($"unexpected keys ({mismatch.Unexpected.Count}): {List(mismatch.Unexpected)}");
        if (mismatch.WrongShapes.Count > 0) problems.Add($"wrong shapes ({mismatch.WrongShapes.Count}): {List(mismatch.WrongShapes)}");
        if (mismatch.WrongTypes.Count > 0) problems.Add($"wrong types ({mismatch.WrongTypes.Count}): {List(mismatch.WrongTypes)}");
        return new InvalidDataException(
            $"the state dict does not match a BigGAN-{config.Resolution} generator with G_ch {config.Channels}, dim_z {config.DimZ}, " +
            $"attention at {config.AttentionResolution?.ToString(CultureInfo.InvariantCulture) ?? "none"}: " +
            string.Join("; ", problems) +
            ". Check the file is torch.save(G.state_dict()) of this generator, or pass no configuration to read it off the file.");
    }

    private static string List<T>(IReadOnlyList<T> items) =>
        items.Count <= 12 ? string.Join(", ", items) : string.Join(", ", items.Take(12)) + $", … ({items.Count - 12} more)";
}
