using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace FuseDream.BigGan;

/// <summary>
/// Mirrors <c>layers.SNConv2d</c> (BigGAN-PyTorch) in eval mode: stride 1, square kernel,
/// "same" padding. Differs deliberately: the weight is divided by σ once
/// (<see cref="SpectralNormLayer.FoldSpectralNorm"/>) instead of on every call (eval mode never
/// updates <c>u0</c>, so the numbers are the same). Parameters are frozen.
/// </summary>
internal sealed class SNConv2d(long inChannels, long outChannels, long kernelSize = 3, bool bias = true)
    : SpectralNormLayer(nameof(SNConv2d), [outChannels, inChannels, kernelSize, kernelSize], bias)
{
    private readonly long _padding = kernelSize / 2;

    // [B, in, H, W] → [B, out, H, W]
    public override Tensor forward(Tensor x) =>
        F.conv2d(x, _weight, _bias, padding: [_padding, _padding]);
}
