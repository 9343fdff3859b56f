using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace FuseDream.BigGan;

/// <summary>
/// Mirrors <c>layers.SNLinear</c> (BigGAN-PyTorch) in eval mode. Differs deliberately: the weight
/// is divided by σ once (<see cref="SpectralNormLayer.FoldSpectralNorm"/>) instead of on every call,
/// which gives the same numbers because eval mode never updates <c>u0</c>. Parameters are frozen.
/// </summary>
internal sealed class SNLinear(long inFeatures, long outFeatures, bool bias = true)
    : SpectralNormLayer(nameof(SNLinear), [outFeatures, inFeatures], bias)
{
    public override Tensor forward(Tensor x) => F.linear(x, _weight, _bias); // [B, in] → [B, out]
}
