using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace FuseDream.Clip;

/// <summary>
/// openai/CLIP <c>clip/model.py</c> <c>VisionTransformer</c>: patch convolution, class token,
/// positional embedding, <c>ln_pre</c>, transformer, <c>ln_post</c> on the class token, projection.
/// Deliberate difference: the transformer runs batch-first instead of [tokens, batch, width].
/// </summary>
public sealed class VisionTransformer : Module<Tensor, Tensor>
{
    private readonly Conv2d conv1;
    private readonly Parameter class_embedding;
    private readonly Parameter positional_embedding;
    private readonly LayerNorm ln_pre;
    private readonly ClipTransformer transformer;
    private readonly LayerNorm ln_post;
    private readonly Parameter proj;

    public VisionTransformer(int inputResolution, int patchSize, int width, int layers, int heads, int outputDim, Device? device = null)
        : base("visual")
    {
        if (patchSize <= 0 || inputResolution % patchSize != 0)
            throw new ArgumentException($"Input resolution {inputResolution} is not a multiple of the patch size {patchSize}.", nameof(patchSize));
        InputResolution = inputResolution;
        var grid = inputResolution / patchSize;
        conv1 = Conv2d(3, width, kernel_size: patchSize, stride: patchSize, bias: false, device: device);
        class_embedding = new Parameter(empty(width, device: device));
        positional_embedding = new Parameter(empty((long)grid * grid + 1, width, device: device));
        ln_pre = LayerNorm(width, eps: 1e-5, device: device);
        transformer = new ClipTransformer(width, layers, heads, causal: false, device);
        ln_post = LayerNorm(width, eps: 1e-5, device: device);
        proj = new Parameter(empty(width, outputDim, device: device));
        RegisterComponents();
    }

    public int InputResolution { get; }

    public override Tensor forward(Tensor x) => Forward(x, taps: null);

    internal Tensor Forward(Tensor x, IDictionary<string, Tensor>? taps)
    {
        using var scope = NewDisposeScope();
        var batch = x.shape[0];
        var patches = conv1.forward(x);                                              // [batch, width, grid, grid]
        Tap(taps, "debug.visual.conv1", patches);
        var width = patches.shape[1];
        var tokens = patches.reshape(batch, width, -1).permute(0, 2, 1);            // [batch, grid², width]
        var cls = class_embedding.to(tokens.dtype).expand(batch, 1, width);          // [batch, 1, width]
        var h = cat([cls, tokens], dim: 1) + positional_embedding.to(tokens.dtype);  // [batch, grid²+1, width]
        h = ln_pre.forward(h);
        Tap(taps, "debug.visual.ln_pre", h);
        h = transformer.Forward(h, taps is null ? null : (i, t) => Tap(taps, $"debug.visual.transformer.resblocks.{i}", t));
        var pooled = ln_post.forward(h[.., 0, ..]);                                  // [batch, width]
        Tap(taps, "debug.visual.ln_post", pooled);
        return pooled.matmul(proj).MoveToOuterDisposeScope();                        // [batch, output_dim]
    }

    internal static void Tap(IDictionary<string, Tensor>? taps, string name, Tensor t)
    {
        if (taps is null) return;
        taps[name] = t.detach().clone().DetachFromDisposeScope();
    }
}
