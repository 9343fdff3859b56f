using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace FuseDream.Clip;

/// <summary>
/// Multi-head self-attention holding <c>nn.MultiheadAttention</c>'s parameters
/// (<c>in_proj_weight</c> [3·width, width] with q, k, v stacked; <c>in_proj_bias</c>; <c>out_proj</c>).
/// Differs from PyTorch's module: batch-first, and the product runs through
/// <c>scaled_dot_product_attention</c> (default 1/√head_dim scale, as CLIP), with
/// <c>is_causal</c> in place of the text encoder's −inf upper-triangular mask.
/// </summary>
public sealed class ClipSelfAttention : Module<Tensor, Tensor>
{
    private readonly Parameter in_proj_weight;
    private readonly Parameter in_proj_bias;
    private readonly Linear out_proj;
    private readonly int _heads;
    private readonly bool _causal;

    public ClipSelfAttention(int width, int heads, bool causal, Device? device = null) : base("attn")
    {
        if (heads <= 0 || width % heads != 0)
            throw new ArgumentException($"Width {width} is not divisible into {heads} attention heads.", nameof(heads));
        _heads = heads;
        _causal = causal;
        in_proj_weight = new Parameter(empty(3L * width, width, device: device));
        in_proj_bias = new Parameter(zeros(3L * width, device: device));
        out_proj = Linear(width, width, device: device);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        var (batch, tokens, width) = (x.shape[0], x.shape[1], x.shape[2]);
        var headDim = width / _heads;
        using var scope = NewDisposeScope();
        var qkv = functional.linear(x, in_proj_weight, in_proj_bias);             // [batch, tokens, 3·width]
        var chunks = qkv.view(batch, tokens, 3, _heads, headDim).permute(2, 0, 3, 1, 4); // [3, batch, heads, tokens, head_dim]
        var attended = functional.scaled_dot_product_attention(chunks[0], chunks[1], chunks[2], is_casual: _causal); // [batch, heads, tokens, head_dim]
        var merged = attended.transpose(1, 2).reshape(batch, tokens, width);       // [batch, tokens, width]
        return out_proj.forward(merged).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// openai/CLIP <c>clip/model.py</c> <c>ResidualAttentionBlock</c>: pre-LN attention and MLP
/// (<c>c_fc</c> → QuickGELU → <c>c_proj</c>) with residual connections. Batch-first
/// ([batch, tokens, width]) where the original runs [tokens, batch, width]; the numbers are the same.
/// </summary>
public sealed class ResidualAttentionBlock : Module<Tensor, Tensor>
{
    private readonly ClipSelfAttention attn;
    private readonly LayerNorm ln_1;
    private readonly ClipMlp mlp;
    private readonly LayerNorm ln_2;

    public ResidualAttentionBlock(int width, int heads, bool causal, Device? device = null) : base(nameof(ResidualAttentionBlock))
    {
        attn = new ClipSelfAttention(width, heads, causal, device);
        ln_1 = LayerNorm(width, eps: 1e-5, device: device);
        mlp = new ClipMlp(width, device);
        ln_2 = LayerNorm(width, eps: 1e-5, device: device);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = x + attn.forward(ln_1.forward(x));   // [batch, tokens, width]
        var y = h + mlp.forward(ln_2.forward(h));    // [batch, tokens, width]
        return y.MoveToOuterDisposeScope();
    }
}

/// <summary>CLIP's MLP: <c>c_fc</c> (width → 4·width), QuickGELU <c>x·σ(1.702x)</c>, <c>c_proj</c> (4·width → width).</summary>
public sealed class ClipMlp : Module<Tensor, Tensor>
{
    private readonly Linear c_fc;
    private readonly Linear c_proj;

    public ClipMlp(int width, Device? device = null) : base("mlp")
    {
        c_fc = Linear(width, 4L * width, device: device);
        c_proj = Linear(4L * width, width, device: device);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = c_fc.forward(x);                     // [batch, tokens, 4·width]
        var gelu = h * sigmoid(h * 1.702);           // QuickGELU
        return c_proj.forward(gelu).MoveToOuterDisposeScope(); // [batch, tokens, width]
    }
}

/// <summary>openai/CLIP <c>Transformer</c>: <c>resblocks</c> applied in order (batch-first here).</summary>
public sealed class ClipTransformer : Module<Tensor, Tensor>
{
    private readonly ModuleList<ResidualAttentionBlock> resblocks;

    public ClipTransformer(int width, int layers, int heads, bool causal, Device? device = null) : base("transformer")
    {
        resblocks = new ModuleList<ResidualAttentionBlock>(
            Enumerable.Range(0, layers).Select(_ => new ResidualAttentionBlock(width, heads, causal, device)).ToArray());
        RegisterComponents();
    }

    public int Layers => resblocks.Count;

    public override Tensor forward(Tensor x) => Forward(x, tap: null);

    /// <summary>Runs the blocks; <paramref name="tap"/> sees each block's output (for parity checks).</summary>
    internal Tensor Forward(Tensor x, Action<int, Tensor>? tap)
    {
        using var scope = NewDisposeScope();
        for (var i = 0; i < resblocks.Count; i++)
        {
            x = resblocks[i].forward(x);             // [batch, tokens, width]
            tap?.Invoke(i, x);
        }
        return x.MoveToOuterDisposeScope();
    }
}
