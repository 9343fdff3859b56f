namespace FuseDream.Checkpoints;

/// <summary>
/// The key layouts the real weights are published in. The loaders detect the layout from the
/// tensor names and map it to ours (OpenAI's names for CLIP, ajbrock/BigGAN-PyTorch's for BigGAN).
/// </summary>
public enum CheckpointLayout
{
    /// <summary>Nothing this program recognises.</summary>
    Unknown,
    /// <summary>OpenAI CLIP names (<c>visual.conv1.weight</c>, <c>transformer.resblocks.N.attn.in_proj_weight</c>): OpenAI's archives, open_clip/timm copies.</summary>
    ClipOpenAi,
    /// <summary>Hugging Face transformers <c>CLIPModel</c> names (<c>vision_model.encoder.layers.N.self_attn.q_proj.weight</c>).</summary>
    ClipTransformers,
    /// <summary>A ResNet CLIP (RN50, …): recognised so the error can say so; not supported.</summary>
    ClipResNet,
    /// <summary>ajbrock/BigGAN-PyTorch generator names (<c>blocks.N.0.conv1.weight</c>, <c>shared.weight</c>): FuseDream's checkpoints.</summary>
    BigGanAjbrock,
    /// <summary>The older TF-Hub port (<c>GBlock.N.conv0.module.weight_bar</c>, <c>G_linear</c>): GANalyze's and net2net's files.</summary>
    BigGanV1,
}

/// <summary>Detection and naming of <see cref="CheckpointLayout"/>s.</summary>
public static class CheckpointLayouts
{
    /// <summary>The layout the tensor names show.</summary>
    public static CheckpointLayout Detect(IEnumerable<string> keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var set = keys as IReadOnlyCollection<string> ?? keys.ToList();
        bool Any(Func<string, bool> predicate) => set.Any(predicate);
        if (Any(k => k.StartsWith("visual.layer1.", StringComparison.Ordinal)))
            return CheckpointLayout.ClipResNet;
        if (Any(k => k == "visual.proj") && Any(k => k == "visual.conv1.weight"))
            return CheckpointLayout.ClipOpenAi;
        if (Any(k => k.StartsWith("vision_model.", StringComparison.Ordinal)) && Any(k => k.StartsWith("text_model.", StringComparison.Ordinal)))
            return CheckpointLayout.ClipTransformers;
        if (Any(k => k.StartsWith("GBlock.", StringComparison.Ordinal)) && Any(k => k.StartsWith("G_linear.", StringComparison.Ordinal)))
            return CheckpointLayout.BigGanV1;
        if (Any(k => k == "shared.weight") && Any(k => k.StartsWith("blocks.", StringComparison.Ordinal)))
            return CheckpointLayout.BigGanAjbrock;
        return CheckpointLayout.Unknown;
    }

    /// <summary>Whether the layout is a CLIP one (supported or not) or a BigGAN one.</summary>
    public static string Kind(CheckpointLayout layout) => layout switch
    {
        CheckpointLayout.ClipOpenAi or CheckpointLayout.ClipTransformers or CheckpointLayout.ClipResNet => "clip",
        CheckpointLayout.BigGanAjbrock or CheckpointLayout.BigGanV1 => "biggan",
        _ => "unknown",
    };

    /// <summary>Short machine name for receipts and catalogs.</summary>
    public static string Name(CheckpointLayout layout) => layout switch
    {
        CheckpointLayout.ClipOpenAi => "clip-openai",
        CheckpointLayout.ClipTransformers => "clip-transformers",
        CheckpointLayout.ClipResNet => "clip-resnet",
        CheckpointLayout.BigGanAjbrock => "biggan-ajbrock",
        CheckpointLayout.BigGanV1 => "biggan-v1",
        _ => "unknown",
    };

    /// <summary>What a file in this layout is, for people.</summary>
    public static string Describe(CheckpointLayout layout) => layout switch
    {
        CheckpointLayout.ClipOpenAi => "a CLIP ViT in OpenAI's layout",
        CheckpointLayout.ClipTransformers => "a CLIP ViT in the Hugging Face transformers layout",
        CheckpointLayout.ClipResNet => "a ResNet CLIP (RN50/RN101/RN50x…), which is not supported",
        CheckpointLayout.BigGanAjbrock => "a BigGAN generator in ajbrock/BigGAN-PyTorch's layout",
        CheckpointLayout.BigGanV1 => "a BigGAN generator in the older TF-Hub port (v1) layout",
        _ => "none of the supported layouts",
    };

    /// <summary>"unknown" with a few of the names, so a refused file says what it looks like.</summary>
    public static string DescribeKeys(IEnumerable<string> keys)
    {
        var list = keys.Order(StringComparer.Ordinal).ToList();
        var layout = Detect(list);
        if (layout != CheckpointLayout.Unknown)
            return Describe(layout);
        return list.Count == 0
            ? "an empty file (no tensors)"
            : $"none of the supported layouts ({list.Count} tensors, e.g. {string.Join(", ", list.Take(4))})";
    }
}
