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
    private Tensor? _weightChannelsLast;

    /// <summary>
    /// Run with the weight in channels-last (NHWC) memory order (off by default; see
    /// <see cref="BigGanGenerator.ChannelsLast"/>). libtorch's convolution then computes in
    /// channels-last and returns a channels-last map: same shape and values up to rounding, other strides.
    /// </summary>
    internal bool ChannelsLast { get; set; }

    // [B, in, H, W] → [B, out, H, W]
    public override Tensor forward(Tensor x) =>
        F.conv2d(x, ChannelsLast ? WeightChannelsLast() : _weight, _bias, padding: [_padding, _padding]);

    // TorchSharp 0.107 has no to(memory_format: channels_last) and no contiguous(memory_format):
    // permuting to [out, kH, kW, in], copying, and permuting back gives the same [out, in, kH, kW]
    // view with channels-last strides, which libtorch takes for channels-last. Made once per
    // weight type and device (the models are converted to bf16 or moved after loading).
    private Tensor WeightChannelsLast()
    {
        if (_weightChannelsLast is { } cached && cached.dtype == _weight.dtype && cached.device_type == _weight.device_type && cached.device_index == _weight.device_index) return cached;
        _weightChannelsLast?.Dispose();
        using var noGrad = no_grad();
        _weightChannelsLast = ToChannelsLast(_weight).DetachFromDisposeScope();
        return _weightChannelsLast;
    }

    /// <summary>The same [N, C, H, W] tensor with channels-last (NHWC) strides: a copy.</summary>
    internal static Tensor ToChannelsLast(Tensor x)
    {
        using var nhwc = x.permute(0, 2, 3, 1);
        using var copy = nhwc.contiguous();
        return copy.permute(0, 3, 1, 2);
    }

    /// <summary>Whether <paramref name="x"/> [N, C, H, W] is laid out channels-last (C varies fastest).</summary>
    internal static bool IsChannelsLast(Tensor x) =>
        x.dim() == 4 && x.stride(1) == 1 && x.stride(3) == x.shape[1] && x.stride(2) == x.shape[1] * x.shape[3];

    protected override void Dispose(bool disposing)
    {
        if (disposing) _weightChannelsLast?.Dispose();
        base.Dispose(disposing);
    }
}
