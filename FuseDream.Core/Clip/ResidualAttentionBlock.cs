using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
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
internal sealed class ClipSelfAttention : Module<Tensor, Tensor>
{
    [ComponentName(Name = "in_proj_weight")] private readonly Parameter _inProjWeight;
    [ComponentName(Name = "in_proj_bias")] private readonly Parameter _inProjBias;
    [ComponentName(Name = "out_proj")] private readonly Linear _outProj;
    private readonly int _heads;
    private readonly bool _causal;

    public ClipSelfAttention(int width, int heads, bool causal, Device? device = null) : base("attn")
    {
        if (heads <= 0 || width % heads != 0)
            throw new ArgumentException($"Width {width} is not divisible into {heads} attention heads.", nameof(heads));
        _heads = heads;
        _causal = causal;
        _inProjWeight = new Parameter(empty(3L * width, width, device: device));
        _inProjBias = new Parameter(zeros(3L * width, device: device));
        _outProj = Linear(width, width, device: device);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        var (batch, tokens, width) = (x.shape[0], x.shape[1], x.shape[2]);
        var headDim = width / _heads;
        using var scope = NewDisposeScope();
        var qkv = functional.linear(x, _inProjWeight, _inProjBias);             // [batch, tokens, 3·width]
        var chunks = qkv.view(batch, tokens, 3, _heads, headDim).permute(2, 0, 3, 1, 4); // [3, batch, heads, tokens, head_dim]
        var attended = SecondOrderAttention.Active
            ? Explicit(chunks[0], chunks[1], chunks[2], headDim)
            : functional.scaled_dot_product_attention(chunks[0], chunks[1], chunks[2], is_casual: _causal); // [batch, heads, tokens, head_dim]
        var merged = attended.transpose(1, 2).reshape(batch, tokens, width);       // [batch, tokens, width]
        return _outProj.forward(merged).MoveToOuterDisposeScope();
    }

    /// <summary>softmax(q kᵀ / √head_dim) v written out: the same numbers as the fused kernel, differentiable twice.</summary>
    private Tensor Explicit(Tensor q, Tensor k, Tensor v, long headDim)
    {
        var scores = q.matmul(k.transpose(-2, -1)) / Math.Sqrt(headDim); // [batch, heads, tokens, tokens]
        if (_causal)
        {
            var tokens = q.shape[2];
            using var future = ones(tokens, tokens, ScalarType.Bool, q.device).triu(1); // [tokens, tokens]
            scores = scores.masked_fill(future, double.NegativeInfinity);
        }
        return softmax(scores, -1).matmul(v); // [batch, heads, tokens, head_dim]
    }
}

/// <summary>
/// Makes CLIP's attention, on this thread and while the scope is open, run as written-out
/// matrix products instead of the fused <c>scaled_dot_product_attention</c> kernel, whose backward
/// is not itself differentiable (libtorch: "derivative for …_flash_attention…_backward is not
/// implemented"). Needed wherever a gradient is differentiated again (the composed generation's
/// hypergradient); slower and larger, so off otherwise.
/// </summary>
internal static class SecondOrderAttention
{
    [ThreadStatic] private static int _depth;

    public static bool Active => _depth > 0;

    public static IDisposable Enable()
    {
        _depth++;
        return new Scope();
    }

    private sealed class Scope : IDisposable
    {
        private bool _disposed;

        public void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            _depth--;
        }
    }
}

/// <summary>
/// openai/CLIP <c>clip/model.py</c> <c>ResidualAttentionBlock</c>: pre-LN attention and MLP
/// (<c>c_fc</c> → QuickGELU → <c>c_proj</c>) with residual connections. Batch-first
/// ([batch, tokens, width]) where the original runs [tokens, batch, width]; the numbers are the same.
/// </summary>
internal sealed class ResidualAttentionBlock : Module<Tensor, Tensor>
{
    [ComponentName(Name = "attn")] private readonly ClipSelfAttention _attn;
    [ComponentName(Name = "ln_1")] private readonly LayerNorm _ln1;
    [ComponentName(Name = "mlp")] private readonly ClipMlp _mlp;
    [ComponentName(Name = "ln_2")] private readonly LayerNorm _ln2;

    public ResidualAttentionBlock(int width, int heads, bool causal, Device? device = null) : base(nameof(ResidualAttentionBlock))
    {
        _attn = new ClipSelfAttention(width, heads, causal, device);
        _ln1 = LayerNorm(width, eps: 1e-5, device: device);
        _mlp = new ClipMlp(width, device);
        _ln2 = LayerNorm(width, eps: 1e-5, device: device);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = x + _attn.forward(_ln1.forward(x));   // [batch, tokens, width]
        var y = h + _mlp.forward(_ln2.forward(h));    // [batch, tokens, width]
        return y.MoveToOuterDisposeScope();
    }
}

/// <summary>CLIP's MLP: <c>c_fc</c> (width → 4·width), QuickGELU <c>x·σ(1.702x)</c>, <c>c_proj</c> (4·width → width).</summary>
internal sealed class ClipMlp : Module<Tensor, Tensor>
{
    [ComponentName(Name = "c_fc")] private readonly Linear _cFc;
    [ComponentName(Name = "c_proj")] private readonly Linear _cProj;

    public ClipMlp(int width, Device? device = null) : base("mlp")
    {
        _cFc = Linear(width, 4L * width, device: device);
        _cProj = Linear(4L * width, width, device: device);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = _cFc.forward(x);                     // [batch, tokens, 4·width]
        var gelu = h * sigmoid(h * 1.702);           // QuickGELU
        return _cProj.forward(gelu).MoveToOuterDisposeScope(); // [batch, tokens, width]
    }
}

/// <summary>openai/CLIP <c>Transformer</c>: <c>resblocks</c> applied in order (batch-first here).</summary>
internal sealed class ClipTransformer : Module<Tensor, Tensor>
{
    [ComponentName(Name = "resblocks")] private readonly ModuleList<ResidualAttentionBlock> _resblocks;

    public ClipTransformer(int width, int layers, int heads, bool causal, Device? device = null) : base("transformer")
    {
        _resblocks = new ModuleList<ResidualAttentionBlock>(
            Enumerable.Range(0, layers).Select(_ => new ResidualAttentionBlock(width, heads, causal, device)).ToArray());
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => Forward(x, tap: null);

    /// <summary>Runs the blocks; <paramref name="tap"/> sees each block's output (for parity checks).</summary>
    internal Tensor Forward(Tensor x, Action<int, Tensor>? tap)
    {
        using var scope = NewDisposeScope();
        for (var i = 0; i < _resblocks.Count; i++)
        {
            x = _resblocks[i].forward(x);             // [batch, tokens, width]
            tap?.Invoke(i, x);
        }
        return x.MoveToOuterDisposeScope();
    }
}
