using TorchSharp;
using TorchSharp.Utils;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace FuseDream.BigGan;

/// <summary>
/// Mirrors <c>layers.GBlock</c> as BigGAN's generator builds it (upsampling, so the 1×1
/// shortcut is always learnable): ccbn → ReLU → nearest ×2 → conv3×3 → ccbn → ReLU → conv3×3,
/// plus the upsampled input through conv1×1. ReLU is not in place (the original's in-place ReLU
/// gives the same numbers).
/// </summary>
public sealed class GBlock : nn.Module<Tensor, Tensor, Tensor>
{
    [ComponentName(Name = "conv1")] private readonly SNConv2d _conv1;
    [ComponentName(Name = "conv2")] private readonly SNConv2d _conv2;
    [ComponentName(Name = "conv_sc")] private readonly SNConv2d _convShortcut;
    [ComponentName(Name = "bn1")] private readonly ConditionalBatchNorm _bn1;
    [ComponentName(Name = "bn2")] private readonly ConditionalBatchNorm _bn2;

    public GBlock(long inChannels, long outChannels, long conditioningDim, double bnEps) : base(nameof(GBlock))
    {
        _conv1 = new SNConv2d(inChannels, outChannels, kernelSize: 3);
        _conv2 = new SNConv2d(outChannels, outChannels, kernelSize: 3);
        _convShortcut = new SNConv2d(inChannels, outChannels, kernelSize: 1);
        _bn1 = new ConditionalBatchNorm(inChannels, conditioningDim, bnEps);
        _bn2 = new ConditionalBatchNorm(outChannels, conditioningDim, bnEps);
        RegisterComponents();
    }

    /// <param name="x">[B, in, H, W]</param>
    /// <param name="conditioning">[B, shared_dim + z_chunk]</param>
    /// <returns>[B, out, 2H, 2W]</returns>
    public override Tensor forward(Tensor x, Tensor conditioning)
    {
        using var scope = NewDisposeScope();
        var h = F.relu(_bn1.call(x, conditioning));    // [B, in, H, W]
        h = Upsample(h);                               // [B, in, 2H, 2W]
        var shortcut = Upsample(x);                    // [B, in, 2H, 2W]
        h = _conv1.call(h);                            // [B, out, 2H, 2W]
        h = F.relu(_bn2.call(h, conditioning));
        h = _conv2.call(h);                            // [B, out, 2H, 2W]
        shortcut = _convShortcut.call(shortcut);       // [B, out, 2H, 2W]
        return (h + shortcut).MoveToOuterDisposeScope();
    }

    // F.interpolate(x, scale_factor=2): nearest neighbour, each pixel becomes a 2×2 square.
    private static Tensor Upsample(Tensor x) =>
        F.interpolate(x, scale_factor: [2.0, 2.0], mode: InterpolationMode.Nearest);
}
