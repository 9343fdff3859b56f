using TorchSharp;
using TorchSharp.Utils;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace FuseDream.BigGan;

/// <summary>
/// Mirrors <c>layers.Attention</c> (SA-GAN self-attention as BigGAN-PyTorch writes it): 1×1
/// spectral-norm convs θ (C/8), φ (C/8) and g (C/2) without bias, φ and g max-pooled 2×2, an
/// unscaled softmax over θᵀφ, the attended g through o (C/2 → C), scaled by <c>gamma</c> and added
/// to the input. Written out with bmm rather than a fused attention kernel so the arithmetic is
/// the original's.
/// <para>Deliberate difference: the [B, HW, HW/4] attention map (268 MB per image at 128×128, the
/// largest tensor of BigGAN-256) is computed in blocks of query rows of at most
/// <see cref="MaxAttentionMapBytes"/> each. The softmax is per row, so each row's arithmetic is the
/// original's; only the peak memory changes.</para>
/// </summary>
internal sealed class SelfAttention : nn.Module<Tensor, Tensor>
{
    /// <summary>Default bound of one block of the attention map, over the whole batch.</summary>
    public const long DefaultMaxAttentionMapBytes = 32L << 20;

    [ComponentName(Name = "gamma")] private readonly Parameter _gamma;
    [ComponentName(Name = "theta")] private readonly SNConv2d _theta;
    [ComponentName(Name = "phi")] private readonly SNConv2d _phi;
    [ComponentName(Name = "g")] private readonly SNConv2d _g;
    [ComponentName(Name = "o")] private readonly SNConv2d _o;
    private readonly long _channels;

    public SelfAttention(long channels) : base(nameof(SelfAttention))
    {
        _channels = channels;
        _gamma = new Parameter(zeros(Array.Empty<long>()), requires_grad: false);
        _theta = new SNConv2d(channels, channels / 8, kernelSize: 1, bias: false);
        _phi = new SNConv2d(channels, channels / 8, kernelSize: 1, bias: false);
        _g = new SNConv2d(channels, channels / 2, kernelSize: 1, bias: false);
        _o = new SNConv2d(channels / 2, channels, kernelSize: 1, bias: false);
        RegisterComponents();
    }

    /// <summary>
    /// Upper bound, in bytes, of one block of query rows of the attention map (logits or softmax),
    /// over the whole batch; at least one row is computed at a time. <see cref="long.MaxValue"/>
    /// computes the whole map at once, as the original does.
    /// </summary>
    public long MaxAttentionMapBytes { get; set; } = DefaultMaxAttentionMapBytes;

    /// <summary>How many query rows fit in one block of <paramref name="maxBytes"/>: between 1 and <paramref name="queries"/>.</summary>
    public static long QueryRowsPerBlock(long batch, long queries, long keys, long elementSize, long maxBytes)
    {
        var bytesPerRow = Math.Max(1, batch * keys * elementSize); // an empty batch is one block
        return Math.Clamp(maxBytes / bytesPerRow, 1, Math.Max(1, queries));
    }

    /// <param name="x">[B, C, H, W]</param>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var (batch, height, width) = (x.shape[0], x.shape[2], x.shape[3]);
        var positions = height * width;
        var keys = positions / 4;
        var theta = _theta.call(x).view(-1, _channels / 8, positions);                          // [B, C/8, HW]
        var phi = F.max_pool2d(_phi.call(x), [2, 2]).view(-1, _channels / 8, keys);             // [B, C/8, HW/4]
        var g = F.max_pool2d(_g.call(x), [2, 2]).view(-1, _channels / 2, keys);                 // [B, C/2, HW/4]
        var queries = theta.transpose(1, 2);                                                    // [B, HW, C/8]
        var rowsPerBlock = QueryRowsPerBlock(batch, positions, keys, x.ElementSize, MaxAttentionMapBytes);
        var blocks = new List<Tensor>();
        for (long start = 0; start < positions; start += rowsPerBlock)
        {
            var rows = Math.Min(rowsPerBlock, positions - start);
            blocks.Add(AttendRows(queries.narrow(1, start, rows), phi, g));                     // [B, C/2, rows]
        }
        var attended = (blocks.Count == 1 ? blocks[0] : cat(blocks, 2)).view(-1, _channels / 2, height, width); // [B, C/2, H, W]
        foreach (var block in blocks) block.Dispose();
        var o = _o.call(attended);                                                              // [B, C, H, W]
        attended.Dispose();
        return (_gamma * o).add_(x).MoveToOuterDisposeScope();
    }

    // One block of query rows through the softmax and back onto g. The logits and softmax blocks
    // are the largest tensors of the generator: each is freed as soon as it has been used
    // (autograd keeps what backward needs).
    private static Tensor AttendRows(Tensor queries, Tensor phi, Tensor g)
    {
        using var scope = NewDisposeScope();
        var logits = bmm(queries, phi);                                                         // [B, rows, HW/4]
        var beta = F.softmax(logits, -1);                                                       // [B, rows, HW/4]
        logits.Dispose();
        var attended = bmm(g, beta.transpose(1, 2));                                            // [B, C/2, rows]
        beta.Dispose();
        return attended.MoveToOuterDisposeScope();
    }
}
