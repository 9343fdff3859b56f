using FuseDream.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace FuseDream.Clip;

/// <summary>
/// openai/CLIP <c>clip/model.py</c> <c>CLIP</c> with a ViT image encoder, frozen (eval mode, no
/// parameter gradients; gradients still flow to the input image), computing in fp32 whatever
/// the stored dtype. Parameter names are the original's, so its state dicts load as they are.
/// Deliberate differences: batch-first transformers; attention through
/// <c>scaled_dot_product_attention</c> (causal flag instead of a mask buffer); no ResNet encoder;
/// OpenAI's TorchScript archives are read for their tensors only, their graph is never run.
/// </summary>
public sealed class ClipModel : Module
{
    private static readonly string[] ArchiveMetadataKeys = ["input_resolution", "context_length", "vocab_size"];

    private readonly VisionTransformer visual;
    private readonly ClipTransformer transformer;
    private readonly Embedding token_embedding;
    private readonly Parameter positional_embedding;
    private readonly LayerNorm ln_final;
    private readonly Parameter text_projection;
    private readonly Parameter logit_scale;

    /// <summary>Builds the architecture with uninitialised weights (load a state dict, or use <see cref="Random"/>).</summary>
    public ClipModel(ClipConfig config, Device? device = null) : base("CLIP")
    {
        ArgumentNullException.ThrowIfNull(config);
        Config = config;
        Device = device ?? CPU;
        visual = new VisionTransformer(config.ImageResolution, config.VisionPatchSize, config.VisionWidth,
            config.VisionLayers, config.VisionHeads, config.EmbedDim, device);
        transformer = new ClipTransformer(config.TransformerWidth, config.TransformerLayers, config.TransformerHeads, causal: true, device);
        token_embedding = Embedding(config.VocabSize, config.TransformerWidth, device: device);
        positional_embedding = new Parameter(empty(config.ContextLength, config.TransformerWidth, device: device));
        ln_final = LayerNorm(config.TransformerWidth, eps: 1e-5, device: device);
        text_projection = new Parameter(empty(config.TransformerWidth, config.EmbedDim, device: device));
        logit_scale = new Parameter(full(Array.Empty<long>(), Math.Log(1 / 0.07), device: device));
        RegisterComponents();
        Freeze();
    }

    public ClipConfig Config { get; }

    /// <summary>Where the weights live; inputs are moved here.</summary>
    public Device Device { get; }
    public int InputResolution => Config.ImageResolution;
    public int EmbedDim => Config.EmbedDim;
    public int ContextLength => Config.ContextLength;

    /// <summary>exp(logit_scale): 100 for the released models.</summary>
    public double LogitScaleExp
    {
        get
        {
            using var _ = no_grad();
            using var e = logit_scale.exp();
            return e.to(float64).item<double>();
        }
    }

    /// <summary>
    /// Loads a CLIP ViT from OpenAI's TorchScript <c>.pt</c> archive (its tensors only), a
    /// <c>torch.save</c> state dict or a safetensors file; fp16 weights become fp32.
    /// </summary>
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
    /// Builds the model from named tensors (dimensions inferred as <c>build_model</c> does) and
    /// copies them in, upcast to fp32. Every key must match: missing, unexpected and wrongly shaped
    /// keys are reported together. The archive metadata keys (<c>input_resolution</c>,
    /// <c>context_length</c>, <c>vocab_size</c>) are ignored as <c>build_model</c> ignores them.
    /// The caller keeps ownership of <paramref name="stateDict"/>.
    /// </summary>
    public static ClipModel FromStateDict(IReadOnlyDictionary<string, Tensor> stateDict, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(stateDict);
        var config = ClipConfig.Infer(stateDict);
        var model = new ClipModel(config, device);
        try
        {
            model.CopyWeights(stateDict);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A model with random weights at the scales of the original's <c>initialize_parameters</c>
    /// (normal draws from <paramref name="generator"/>; LayerNorms 1/0, biases 0, logit scale ln 1/0.07).
    /// For benchmarks and tests: the distributions of PyTorch's default initialisers are not reproduced.
    /// </summary>
    public static ClipModel Random(ClipConfig config, Generator generator, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(generator);
        var model = new ClipModel(config, device);
        using var _ = no_grad();
        foreach (var (name, p) in model.named_parameters())
        {
            var vision = name.StartsWith("visual.", StringComparison.Ordinal);
            double width = vision ? config.VisionWidth : config.TransformerWidth;
            double layers = vision ? config.VisionLayers : config.TransformerLayers;
            var attnStd = Math.Pow(width, -0.5);
            var projStd = attnStd * Math.Pow(2 * layers, -0.5);
            if (name == "logit_scale")
                continue;
            if (name.Contains(".ln_", StringComparison.Ordinal) || name.StartsWith("ln_", StringComparison.Ordinal))
            {
                p.fill_(name.EndsWith("weight", StringComparison.Ordinal) ? 1.0 : 0.0);
                continue;
            }
            if (name.EndsWith("bias", StringComparison.Ordinal))
            {
                p.zero_();
                continue;
            }
            var std = name switch
            {
                "token_embedding.weight" => 0.02,
                "positional_embedding" => 0.01,
                "visual.conv1.weight" => Math.Pow(3.0 * config.VisionPatchSize * config.VisionPatchSize, -0.5),
                _ when name.EndsWith("in_proj_weight", StringComparison.Ordinal) => attnStd,
                _ when name.EndsWith("out_proj.weight", StringComparison.Ordinal) => projStd,
                _ when name.EndsWith("c_fc.weight", StringComparison.Ordinal) => Math.Pow(2 * width, -0.5),
                _ when name.EndsWith("c_proj.weight", StringComparison.Ordinal) => projStd,
                _ => attnStd, // text_projection; visual class/positional embedding and proj (width^-0.5)
            };
            using var draw = randn(p.shape, generator: generator).mul_(std);
            p.copy_(draw);
        }
        return model;
    }

    private void CopyWeights(IReadOnlyDictionary<string, Tensor> stateDict)
    {
        var own = state_dict();
        var given = stateDict.Keys.Where(k => !(ArchiveMetadataKeys.Contains(k) && stateDict[k].dim() == 0)).ToHashSet(StringComparer.Ordinal);
        var missing = own.Keys.Where(k => !given.Contains(k)).Order(StringComparer.Ordinal).ToList();
        var unexpected = given.Where(k => !own.ContainsKey(k)).Order(StringComparer.Ordinal).ToList();
        var mismatched = new List<string>();
        var mismatchText = new List<string>();
        foreach (var (key, target) in own)
        {
            if (!given.Contains(key)) continue;
            var source = stateDict[key];
            if (!source.shape.SequenceEqual(target.shape))
            {
                mismatched.Add(key);
                mismatchText.Add($"'{key}' is [{string.Join(", ", source.shape)}], the model expects [{string.Join(", ", target.shape)}]");
            }
            else if (!source.is_floating_point())
            {
                mismatched.Add(key);
                mismatchText.Add($"'{key}' is {source.dtype}, a floating-point tensor was expected");
            }
        }
        if (missing.Count + unexpected.Count + mismatched.Count > 0)
        {
            var parts = new List<string>();
            if (missing.Count > 0) parts.Add($"missing key(s): {string.Join(", ", missing.Select(k => $"'{k}'"))}");
            if (unexpected.Count > 0) parts.Add($"unexpected key(s): {string.Join(", ", unexpected.Select(k => $"'{k}'"))}");
            if (mismatched.Count > 0) parts.Add($"shape/dtype mismatch: {string.Join("; ", mismatchText)}");
            throw new ClipStateDictException(
                $"The checkpoint does not match the CLIP ViT inferred from it ({Config}): {string.Join(". ", parts)}. " +
                "Load an unmodified OpenAI CLIP ViT checkpoint (ViT-B/32, ViT-B/16, ViT-L/14) or a state dict with exactly its keys.",
                missing, unexpected, mismatched);
        }
        using var _ = no_grad();
        foreach (var (key, target) in own)
        {
            using var source = stateDict[key].to(float32).to(target.device);
            target.copy_(source);
        }
    }

    private void Freeze()
    {
        foreach (var p in parameters()) p.requires_grad = false;
        eval();
    }

    /// <summary>Image features: [B, 3, R, R] CLIP-normalised images → [B, EmbedDim] (not normalised).</summary>
    public Tensor EncodeImage(Tensor image) => EncodeImage(image, taps: null);

    internal Tensor EncodeImage(Tensor image, IDictionary<string, Tensor>? taps)
    {
        ArgumentNullException.ThrowIfNull(image);
        var r = InputResolution;
        if (image.dim() != 4 || image.shape[1] != 3 || image.shape[2] != r || image.shape[3] != r)
            throw new ArgumentException(
                $"Expected images [B, 3, {r}, {r}] (resized to the model's {r}×{r} and normalised with ClipPreprocessing.Normalize); got [{string.Join(", ", image.shape)}].",
                nameof(image));
        if (!image.is_floating_point())
            throw new ArgumentException($"Expected a floating-point image tensor; got {image.dtype}.", nameof(image));
        return visual.Forward(image.to(float32, Device), taps);
    }

    /// <summary>Text features: [B, 77] int64 token ids (from ClipTokenizer) → [B, EmbedDim] (not normalised).</summary>
    public Tensor EncodeText(Tensor tokens) => EncodeText(tokens, taps: null);

    internal Tensor EncodeText(Tensor tokens, IDictionary<string, Tensor>? taps)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        if (tokens.dim() != 2 || tokens.shape[1] != ContextLength)
            throw new ArgumentException(
                $"Expected token ids [B, {ContextLength}] (ClipTokenizer output); got [{string.Join(", ", tokens.shape)}].", nameof(tokens));
        if (tokens.is_floating_point() || tokens.dtype == ScalarType.Bool)
            throw new ArgumentException($"Expected integer token ids; got {tokens.dtype}.", nameof(tokens));
        using var scope = NewDisposeScope();
        var ids = tokens.to(int64, Device);
        var x = token_embedding.forward(ids) + positional_embedding;                 // [batch, context, width]
        x = transformer.Forward(x, taps is null ? null : (i, t) => VisionTransformer.Tap(taps, $"debug.transformer.resblocks.{i}", t));
        x = ln_final.forward(x);                                                     // [batch, context, width]
        VisionTransformer.Tap(taps, "debug.ln_final", x);
        // Features at the end token: the highest id, first occurrence, as text.argmax(-1) in the original.
        var eot = ids.argmax(-1);                                                    // [batch]
        var pooled = x[arange(x.shape[0], device: x.device), eot];                   // [batch, width]
        return pooled.matmul(text_projection).MoveToOuterDisposeScope();             // [batch, embed_dim]
    }

    /// <summary>The original's forward: (logits_per_image [B, T], logits_per_text [T, B]).</summary>
    public (Tensor LogitsPerImage, Tensor LogitsPerText) Forward(Tensor image, Tensor tokens)
    {
        using var scope = NewDisposeScope();
        var imageFeatures = EncodeImage(image);
        var textFeatures = EncodeText(tokens);
        var logitsPerImage = logit_scale.exp() * CosineSimilarity(imageFeatures, textFeatures); // [B, T]
        var logitsPerText = logitsPerImage.t();                                                   // [T, B]
        return (logitsPerImage.MoveToOuterDisposeScope(), logitsPerText.MoveToOuterDisposeScope());
    }

    /// <summary>Cosine similarity of every image with every text: [B, E], [T, E] → [B, T] (= logits_per_image / exp(logit_scale)).</summary>
    public static Tensor CosineSimilarity(Tensor imageFeatures, Tensor textFeatures)
    {
        ArgumentNullException.ThrowIfNull(imageFeatures);
        ArgumentNullException.ThrowIfNull(textFeatures);
        if (imageFeatures.dim() != 2 || textFeatures.dim() != 2 || imageFeatures.shape[1] != textFeatures.shape[1])
            throw new ArgumentException(
                $"Expected features [B, E] and [T, E]; got [{string.Join(", ", imageFeatures.shape)}] and [{string.Join(", ", textFeatures.shape)}].");
        using var scope = NewDisposeScope();
        var img = imageFeatures / imageFeatures.norm(1, keepdim: true);
        var txt = textFeatures / textFeatures.norm(1, keepdim: true);
        return img.matmul(txt.t()).MoveToOuterDisposeScope();                        // [B, T]
    }
}
