using FuseDream.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace FuseDream.Clip;

/// <summary>
/// openai/CLIP <c>clip/model.py</c> <c>CLIP</c> with a ViT image encoder, frozen (eval mode, no
/// parameter gradients; gradients still flow to the input image), computing in fp32 whatever
/// the stored dtype (or in bf16 once converted by <see cref="Models.ModelPrecision.ApplyTo"/>: it
/// still takes and gives float32). Parameter names are the original's, so its state dicts load as they are.
/// Deliberate differences: batch-first transformers; attention through
/// <c>scaled_dot_product_attention</c> (causal flag instead of a mask buffer); no ResNet encoder;
/// OpenAI's TorchScript archives are read for their tensors only, their graph is never run
/// (<see cref="ClipCheckpoint"/> reads them).
/// </summary>
public sealed class ClipModel : Module
{
    [ComponentName(Name = "visual")] private readonly VisionTransformer _visual;
    [ComponentName(Name = "transformer")] private readonly ClipTransformer _transformer;
    [ComponentName(Name = "token_embedding")] private readonly Embedding _tokenEmbedding;
    [ComponentName(Name = "positional_embedding")] private readonly Parameter _positionalEmbedding;
    [ComponentName(Name = "ln_final")] private readonly LayerNorm _lnFinal;
    [ComponentName(Name = "text_projection")] private readonly Parameter _textProjection;
    [ComponentName(Name = "logit_scale")] private readonly Parameter _logitScale;

    /// <summary>Builds the architecture with uninitialised weights (load a checkpoint with <see cref="Checkpoints.ClipCheckpoint"/>, or use <see cref="ClipRandomInit"/>).</summary>
    public ClipModel(ClipConfig config, Device? device = null) : base("CLIP")
    {
        ArgumentNullException.ThrowIfNull(config);
        Config = config;
        Device = device ?? CPU;
        _visual = new VisionTransformer(config.ImageResolution, config.VisionPatchSize, config.VisionWidth,
            config.VisionLayers, config.VisionHeads, config.EmbedDim, device);
        _transformer = new ClipTransformer(config.TransformerWidth, config.TransformerLayers, config.TransformerHeads, causal: true, device);
        _tokenEmbedding = Embedding(config.VocabSize, config.TransformerWidth, device: device);
        _positionalEmbedding = new Parameter(empty(config.ContextLength, config.TransformerWidth, device: device));
        _lnFinal = LayerNorm(config.TransformerWidth, eps: 1e-5, device: device);
        _textProjection = new Parameter(empty(config.TransformerWidth, config.EmbedDim, device: device));
        _logitScale = new Parameter(full(Array.Empty<long>(), Math.Log(1 / 0.07), device: device));
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
            using var e = _logitScale.exp();
            return Generation.HostRead.Double(e);
        }
    }

    private void Freeze()
    {
        foreach (var p in parameters()) p.requires_grad = false;
        eval();
    }

    /// <summary>Image features: [B, 3, R, R] CLIP-normalised images → [B, EmbedDim] (not normalised).</summary>
    public Tensor EncodeImage(Tensor image) => EncodeImage(image, tap: null);

    /// <summary>
    /// <see cref="EncodeImage(Tensor)"/>, showing intermediate results to <paramref name="tap"/> under
    /// the original's module names (<c>visual.conv1</c>, <c>visual.ln_pre</c>,
    /// <c>visual.transformer.resblocks.i</c>, <c>visual.ln_post</c>). The tapped tensors are freed
    /// after the call returns: keep copies (<c>clone().DetachFromDisposeScope()</c>).
    /// </summary>
    internal Tensor EncodeImage(Tensor image, Action<string, Tensor>? tap)
    {
        ArgumentNullException.ThrowIfNull(image);
        var r = InputResolution;
        if (image.dim() != 4 || image.shape[1] != 3 || image.shape[2] != r || image.shape[3] != r)
            throw new ArgumentException(
                $"Expected images [B, 3, {r}, {r}] (resized to the model's {r}×{r} and normalised with ClipPreprocessing.Normalize); got [{string.Join(", ", image.shape)}].",
                nameof(image));
        if (!image.is_floating_point())
            throw new ArgumentException($"Expected a floating-point image tensor; got {image.dtype}.", nameof(image));
        // Reduced-precision weights (bf16) take float32 in and give float32 out; otherwise the image
        // runs in the weights' type (float32, or float64 where gradients are checked).
        var weightType = _positionalEmbedding.dtype;
        if (!Models.ModelPrecision.IsReduced(weightType)) return _visual.Forward(image.to(weightType, Device), tap);
        using var scope = NewDisposeScope();
        return _visual.Forward(image.to(weightType, Device), tap).to(float32).MoveToOuterDisposeScope();
    }

    /// <summary>Text features: [B, 77] int64 token ids (from ClipTokenizer) → [B, EmbedDim] (not normalised).</summary>
    public Tensor EncodeText(Tensor tokens) => EncodeText(tokens, tap: null);

    /// <summary>
    /// <see cref="EncodeText(Tensor)"/>, showing <c>transformer.resblocks.i</c> and <c>ln_final</c>
    /// to <paramref name="tap"/> as <see cref="EncodeImage(Tensor, Action{string, Tensor})"/> does.
    /// </summary>
    internal Tensor EncodeText(Tensor tokens, Action<string, Tensor>? tap)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        if (tokens.dim() != 2 || tokens.shape[1] != ContextLength)
            throw new ArgumentException(
                $"Expected token ids [B, {ContextLength}] (ClipTokenizer output); got [{string.Join(", ", tokens.shape)}].", nameof(tokens));
        if (tokens.is_floating_point() || tokens.dtype == ScalarType.Bool)
            throw new ArgumentException($"Expected integer token ids; got {tokens.dtype}.", nameof(tokens));
        using var scope = NewDisposeScope();
        var ids = tokens.to(int64, Device);
        var x = _tokenEmbedding.forward(ids) + _positionalEmbedding;                 // [batch, context, width]
        x = _transformer.Forward(x, tap is null ? null : (i, t) => tap($"transformer.resblocks.{i}", t));
        x = _lnFinal.forward(x);                                                     // [batch, context, width]
        tap?.Invoke("ln_final", x);
        // Features at the end token: the highest id, first occurrence, as text.argmax(-1) in the original.
        var eot = ids.argmax(-1);                                                    // [batch]
        var pooled = x[arange(x.shape[0], device: x.device), eot];                   // [batch, width]
        var features = pooled.matmul(_textProjection);                              // [batch, embed_dim]
        return (Models.ModelPrecision.IsReduced(features.dtype) ? features.to(float32) : features).MoveToOuterDisposeScope();
    }

    /// <summary>The original's forward: (logits_per_image [B, T], logits_per_text [T, B]).</summary>
    public (Tensor LogitsPerImage, Tensor LogitsPerText) Forward(Tensor image, Tensor tokens)
    {
        using var scope = NewDisposeScope();
        var imageFeatures = EncodeImage(image);
        var textFeatures = EncodeText(tokens);
        var logitsPerImage = _logitScale.exp() * CosineSimilarity(imageFeatures, textFeatures); // [B, T]
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
