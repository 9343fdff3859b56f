using static TorchSharp.torch;

namespace FuseDream.Clip;

/// <summary>
/// The dimensions of a CLIP ViT, as openai/CLIP <c>build_model</c> infers them from a state dict
/// (heads are width / 64, as there).
/// </summary>
public sealed record ClipConfig(
    int EmbedDim,
    int ImageResolution,
    int VisionLayers,
    int VisionWidth,
    int VisionPatchSize,
    int ContextLength,
    int VocabSize,
    int TransformerWidth,
    int TransformerHeads,
    int TransformerLayers)
{
    public int VisionHeads => VisionWidth / 64;
    public int Grid => ImageResolution / VisionPatchSize;

    /// <summary>ViT-B/32 as released by OpenAI.</summary>
    public static ClipConfig VitB32 { get; } = new(512, 224, 12, 768, 32, 77, 49408, 512, 8, 12);
    /// <summary>ViT-B/16 as released by OpenAI.</summary>
    public static ClipConfig VitB16 { get; } = new(512, 224, 12, 768, 16, 77, 49408, 512, 8, 12);
    /// <summary>ViT-L/14 as released by OpenAI.</summary>
    public static ClipConfig VitL14 { get; } = new(768, 224, 24, 1024, 14, 77, 49408, 768, 12, 12);

    /// <summary>The keys <see cref="Infer"/> reads.</summary>
    internal static readonly string[] InferenceKeys =
    [
        "visual.conv1.weight", "visual.positional_embedding", "text_projection",
        "positional_embedding", "token_embedding.weight", "ln_final.weight",
    ];

    /// <summary>Dimensions from the tensors' shapes, exactly as <c>clip.model.build_model</c>.</summary>
    public static ClipConfig Infer(IReadOnlyDictionary<string, Tensor> stateDict)
    {
        ArgumentNullException.ThrowIfNull(stateDict);
        if (!stateDict.ContainsKey("visual.proj"))
        {
            var resnet = stateDict.Keys.Any(k => k.StartsWith("visual.layer1.", StringComparison.Ordinal));
            throw new ClipStateDictException(
                resnet
                    ? "This is a ResNet CLIP (RN50/RN101/RN50x…): only the ViT models (ViT-B/32, ViT-B/16, ViT-L/14) are supported."
                    : "The state dict has no 'visual.proj': it is not an OpenAI CLIP ViT state dict (expected keys such as 'visual.conv1.weight', 'visual.proj', 'text_projection').",
                missing: ["visual.proj"], unexpected: [], mismatched: []);
        }
        var absent = InferenceKeys.Where(k => !stateDict.ContainsKey(k)).ToList();
        if (absent.Count > 0)
            throw new ClipStateDictException(
                $"Cannot infer the CLIP dimensions: missing key(s) {string.Join(", ", absent.Select(k => $"'{k}'"))}.",
                missing: absent, unexpected: [], mismatched: []);

        var conv = Shape(stateDict, "visual.conv1.weight", 4);
        var visionWidth = (int)conv[0];
        var visionLayers = stateDict.Keys.Count(k => k.StartsWith("visual.", StringComparison.Ordinal) && k.EndsWith(".attn.in_proj_weight", StringComparison.Ordinal));
        var patch = (int)conv[^1];
        var positions = Shape(stateDict, "visual.positional_embedding", 2)[0];
        var grid = (int)Math.Round(Math.Sqrt(positions - 1));
        var transformerWidth = (int)Shape(stateDict, "ln_final.weight", 1)[0];
        var transformerLayers = stateDict.Keys
            .Where(k => k.StartsWith("transformer.resblocks", StringComparison.Ordinal))
            .Select(k => k.Split('.')[2])
            .Distinct()
            .Count();
        return new ClipConfig(
            EmbedDim: (int)Shape(stateDict, "text_projection", 2)[1],
            ImageResolution: patch * grid,
            VisionLayers: visionLayers,
            VisionWidth: visionWidth,
            VisionPatchSize: patch,
            ContextLength: (int)Shape(stateDict, "positional_embedding", 2)[0],
            VocabSize: (int)Shape(stateDict, "token_embedding.weight", 2)[0],
            TransformerWidth: transformerWidth,
            TransformerHeads: transformerWidth / 64,
            TransformerLayers: transformerLayers);
    }

    private static long[] Shape(IReadOnlyDictionary<string, Tensor> stateDict, string key, int rank)
    {
        var shape = stateDict[key].shape;
        if (shape.Length != rank)
            throw new ClipStateDictException(
                $"'{key}' has shape [{string.Join(", ", shape)}]; a CLIP ViT stores it with {rank} dimension(s).",
                missing: [], unexpected: [], mismatched: [key]);
        return shape;
    }
}
