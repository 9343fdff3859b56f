using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace FuseDream.Clip;

/// <summary>
/// openai/CLIP <c>clip/model.py</c> <c>VisionTransformer</c>: patch convolution, class token,
/// positional embedding, <c>ln_pre</c>, transformer, <c>ln_post</c> on the class token, projection.
/// Deliberate difference: the transformer runs batch-first instead of [tokens, batch, width].
/// </summary>
internal sealed class VisionTransformer : Module<Tensor, Tensor>
{
    [ComponentName(Name = "conv1")] private readonly Conv2d _conv1;
    [ComponentName(Name = "class_embedding")] private readonly Parameter _classEmbedding;
    [ComponentName(Name = "positional_embedding")] private readonly Parameter _positionalEmbedding;
    [ComponentName(Name = "ln_pre")] private readonly LayerNorm _lnPre;
    [ComponentName(Name = "transformer")] private readonly ClipTransformer _transformer;
    [ComponentName(Name = "ln_post")] private readonly LayerNorm _lnPost;
    [ComponentName(Name = "proj")] private readonly Parameter _proj;

    public VisionTransformer(int inputResolution, int patchSize, int width, int layers, int heads, int outputDim, Device? device = null)
        : base("visual")
    {
        if (patchSize <= 0 || inputResolution % patchSize != 0)
            throw new ArgumentException($"Input resolution {inputResolution} is not a multiple of the patch size {patchSize}.", nameof(patchSize));
        InputResolution = inputResolution;
        var grid = inputResolution / patchSize;
        _conv1 = Conv2d(3, width, kernel_size: patchSize, stride: patchSize, bias: false, device: device);
        _classEmbedding = new Parameter(empty(width, device: device));
        _positionalEmbedding = new Parameter(empty((long)grid * grid + 1, width, device: device));
        _lnPre = LayerNorm(width, eps: 1e-5, device: device);
        _transformer = new ClipTransformer(width, layers, heads, causal: false, device);
        _lnPost = LayerNorm(width, eps: 1e-5, device: device);
        _proj = new Parameter(empty(width, outputDim, device: device));
        RegisterComponents();
    }

    public int InputResolution { get; }

    public override Tensor forward(Tensor x) => Forward(x, tap: null);

    /// <summary>The forward pass; <paramref name="tap"/> sees intermediate results under the original's module names.</summary>
    internal Tensor Forward(Tensor x, Action<string, Tensor>? tap)
    {
        using var scope = NewDisposeScope();
        var batch = x.shape[0];
        var patches = _conv1.forward(x);                                             // [batch, width, grid, grid]
        tap?.Invoke("visual.conv1", patches);
        var width = patches.shape[1];
        var tokens = patches.reshape(batch, width, -1).permute(0, 2, 1);            // [batch, grid², width]
        var cls = _classEmbedding.to(tokens.dtype).expand(batch, 1, width);          // [batch, 1, width]
        var h = cat([cls, tokens], dim: 1) + _positionalEmbedding.to(tokens.dtype);  // [batch, grid²+1, width]
        h = _lnPre.forward(h);
        tap?.Invoke("visual.ln_pre", h);
        h = _transformer.Forward(h, tap is null ? null : (i, t) => tap($"visual.transformer.resblocks.{i}", t));
        var pooled = _lnPost.forward(h[.., 0, ..]);                                  // [batch, width]
        tap?.Invoke("visual.ln_post", pooled);
        return pooled.matmul(_proj).MoveToOuterDisposeScope();                       // [batch, output_dim]
    }
}
