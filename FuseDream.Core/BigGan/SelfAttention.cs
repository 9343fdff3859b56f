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
/// </summary>
internal sealed class SelfAttention : nn.Module<Tensor, Tensor>
{
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

    /// <param name="x">[B, C, H, W]</param>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var (height, width) = (x.shape[2], x.shape[3]);
        var positions = height * width;
        var theta = _theta.call(x).view(-1, _channels / 8, positions);                          // [B, C/8, HW]
        var phi = F.max_pool2d(_phi.call(x), [2, 2]).view(-1, _channels / 8, positions / 4);   // [B, C/8, HW/4]
        var g = F.max_pool2d(_g.call(x), [2, 2]).view(-1, _channels / 2, positions / 4);       // [B, C/2, HW/4]
        // The two [B, HW, HW/4] maps are the largest tensors of the generator: free each early.
        var logits = bmm(theta.transpose(1, 2), phi);                                           // [B, HW, HW/4]
        var beta = F.softmax(logits, -1);                                                       // [B, HW, HW/4]
        logits.Dispose();
        var attended = bmm(g, beta.transpose(1, 2)).view(-1, _channels / 2, height, width);     // [B, C/2, H, W]
        beta.Dispose();
        var o = _o.call(attended);                                                              // [B, C, H, W]
        attended.Dispose();
        return (_gamma * o).add_(x).MoveToOuterDisposeScope();
    }
}
