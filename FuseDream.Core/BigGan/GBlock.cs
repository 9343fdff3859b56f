using TorchSharp;
using TorchSharp.Utils;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace FuseDream.BigGan;

/// <summary>
/// Mirrors <c>layers.GBlock</c> as BigGAN's generator builds it (upsampling, so the 1×1
/// shortcut is always learnable): ccbn → ReLU → nearest ×2 → conv3×3 → ccbn → ReLU → conv3×3,
/// plus the upsampled input through conv1×1. ReLU in place, as the original's.
/// <para>Deliberate difference: the shortcut runs the 1×1 conv before the nearest-neighbour
/// upsampling instead of after. A 1×1 conv acts on each pixel alone and nearest ×2 copies pixels,
/// so the two commute and the numbers are the same, on 4× fewer pixels.</para>
/// </summary>
internal sealed class GBlock : nn.Module<Tensor, Tensor, Tensor>
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

    /// <summary>
    /// Both 3×3 convolutions in channels-last (see <see cref="BigGanGenerator.ChannelsLast"/>);
    /// the block's output is made contiguous (NCHW) again, so what follows sees the usual layout.
    /// </summary>
    internal bool ChannelsLast
    {
        get => _conv1.ChannelsLast;
        set => _conv1.ChannelsLast = _conv2.ChannelsLast = value;
    }

    /// <param name="x">[B, in, H, W]</param>
    /// <param name="conditioning">[B, shared_dim + z_chunk]</param>
    /// <returns>[B, out, 2H, 2W]</returns>
    public override Tensor forward(Tensor x, Tensor conditioning)
    {
        // Intermediates are disposed as soon as they are used so that a no_grad pass holds at
        // most a few maps at a time (autograd keeps what backward needs by itself). In-place ops
        // only where the overwritten value is not needed by backward.
        using var scope = NewDisposeScope();
        var activated = _bn1.call(x, conditioning).relu_();      // [B, in, H, W]
        var upsampled = Upsample(activated);                     // [B, in, 2H, 2W]
        activated.Dispose();
        var h = _conv1.call(upsampled);                          // [B, out, 2H, 2W]
        upsampled.Dispose();
        var activated2 = _bn2.call(h, conditioning).relu_();
        h.Dispose();
        h = _conv2.call(activated2);                             // [B, out, 2H, 2W]
        activated2.Dispose();
        var shortcut = _convShortcut.call(x);                    // [B, out, H, W]
        var upsampledShortcut = Upsample(shortcut);              // [B, out, 2H, 2W]
        shortcut.Dispose();
        h.add_(upsampledShortcut);                               // channels-last when the convs are
        return (ChannelsLast ? h.contiguous() : h).MoveToOuterDisposeScope();
    }

    // F.interpolate(x, scale_factor=2): nearest neighbour, each pixel becomes a 2×2 square.
    private static Tensor Upsample(Tensor x) =>
        F.interpolate(x, scale_factor: [2.0, 2.0], mode: InterpolationMode.Nearest);
}
