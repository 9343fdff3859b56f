using FuseDream.Clip;
using static TorchSharp.torch;

namespace FuseDream.Checkpoints;

/// <summary>
/// CLIP ViT weights into a <see cref="ClipModel"/>: OpenAI's TorchScript <c>.pt</c> archive (its
/// tensors only), a <c>torch.save</c> state dict or safetensors, in OpenAI's key layout (with or
/// without the archive's three metadata scalars) or the Hugging Face transformers layout
/// (mapped to OpenAI's, see <see cref="LayoutConversion"/>); dimensions inferred as
/// <c>build_model</c> does; loaded strictly; fp16 weights become fp32.
/// </summary>
public static class ClipCheckpoint
{
    /// <summary>Scalars OpenAI's archives carry beside the weights; <c>build_model</c> ignores them, so do we.</summary>
    private static readonly string[] ArchiveMetadataKeys = ["input_resolution", "context_length", "vocab_size"];

    public static ClipModel Load(string path, Device? device = null)
    {
        var tensors = CheckpointReader.ReadTensors(path);
        try
        {
            return FromStateDict(tensors, device);
        }
        catch (ClipStateDictException ex)
        {
            throw new ClipStateDictException($"'{path}': {ex.Message}", ex.MissingKeys, ex.UnexpectedKeys, ex.MismatchedKeys);
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }

    /// <summary>
    /// Builds the model from named tensors and copies them in. Every key must match: missing,
    /// unexpected and wrongly shaped keys are reported together. The caller keeps ownership of
    /// <paramref name="stateDict"/>.
    /// </summary>
    public static ClipModel FromStateDict(IReadOnlyDictionary<string, Tensor> stateDict, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(stateDict);
        var layout = CheckpointLayouts.Detect(stateDict.Keys);
        if (CheckpointLayouts.Kind(layout) == "biggan")
            throw new ClipStateDictException(
                $"This is {CheckpointLayouts.Describe(layout)}, not a CLIP ViT checkpoint: expected OpenAI's layout " +
                "('visual.conv1.weight', 'visual.proj', 'transformer.resblocks.N…') or the transformers layout ('vision_model.…', 'text_model.…').",
                missing: ["visual.proj"], unexpected: [], mismatched: []);
        var converted = LayoutConversion.For(layout, stateDict.ToDictionary(kv => kv.Key, kv => kv.Value.shape, StringComparer.Ordinal)).Apply(stateDict);
        try
        {
            return FromOurLayout(converted, device);
        }
        catch (ClipStateDictException ex) when (layout == CheckpointLayout.Unknown)
        {
            throw new ClipStateDictException($"{ex.Message} The file looks like {CheckpointLayouts.DescribeKeys(stateDict.Keys)}.",
                ex.MissingKeys, ex.UnexpectedKeys, ex.MismatchedKeys);
        }
        finally
        {
            foreach (var t in converted.Values) t.Dispose();
        }
    }

    private static ClipModel FromOurLayout(IReadOnlyDictionary<string, Tensor> stateDict, Device? device)
    {
        var config = ClipConfig.Infer(stateDict);
        var model = new ClipModel(config, device);
        try
        {
            var weights = stateDict
                .Where(kv => !(ArchiveMetadataKeys.Contains(kv.Key) && kv.Value.dim() == 0))
                .ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
            StateDictLoader.LoadStrict(model, weights, describe: mismatch => Describe(config, mismatch));
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    private static ClipStateDictException Describe(ClipConfig config, StateDictMismatch mismatch)
    {
        var missing = mismatch.Missing.Order(StringComparer.Ordinal).ToList();
        var parts = new List<string>();
        if (missing.Count > 0) parts.Add($"missing key(s): {string.Join(", ", missing.Select(k => $"'{k}'"))}");
        if (mismatch.Unexpected.Count > 0) parts.Add($"unexpected key(s): {string.Join(", ", mismatch.Unexpected.Select(k => $"'{k}'"))}");
        var wrong = mismatch.WrongShapes.Select(m => $"'{m.Key}' is {ShapeMismatch.Format(m.Given)}, the model expects {ShapeMismatch.Format(m.Expected)}")
            .Concat(mismatch.WrongTypes.Select(m => $"'{m.Key}' is {m.Given}, a floating-point tensor was expected"))
            .ToList();
        if (wrong.Count > 0) parts.Add($"shape/dtype mismatch: {string.Join("; ", wrong)}");
        return new ClipStateDictException(
            $"The checkpoint does not match the CLIP ViT inferred from it ({config}): {string.Join(". ", parts)}. " +
            "Load an unmodified OpenAI CLIP ViT checkpoint (ViT-B/32, ViT-B/16, ViT-L/14) or a state dict with exactly its keys.",
            missing, mismatch.Unexpected, mismatch.MismatchedKeys);
    }
}
