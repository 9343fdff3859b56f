using TorchSharp;
using TorchSharp.Utils;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace FuseDream.BigGan;

/// <summary>
/// Mirrors <c>layers.SNLinear</c> (BigGAN-PyTorch) in eval mode. Differs deliberately: the weight
/// is divided by σ once (<see cref="FoldSpectralNorm"/>) instead of on every call, which gives the
/// same numbers because eval mode never updates <c>u0</c>. Parameters are frozen.
/// </summary>
public sealed class SNLinear : nn.Module<Tensor, Tensor>, ISpectralNormLayer
{
    [ComponentName(Name = "weight")] private readonly Parameter _weight;
    [ComponentName(Name = "bias")] private readonly Parameter? _bias;
    [ComponentName(Name = "u0")] private readonly Tensor _u0;
    [ComponentName(Name = "sv0")] private readonly Tensor _sv0;

    public SNLinear(long inFeatures, long outFeatures, bool bias = true) : base(nameof(SNLinear))
    {
        _weight = new Parameter(empty(outFeatures, inFeatures), requires_grad: false);
        _bias = bias ? new Parameter(zeros(outFeatures), requires_grad: false) : null;
        _u0 = zeros(1, outFeatures);
        _sv0 = ones(1);
        RegisterComponents();
    }

    public float Sigma { get; private set; } = float.NaN;

    public void FoldSpectralNorm(double eps)
    {
        if (!float.IsNaN(Sigma))
            throw new InvalidOperationException("The spectral norm is already folded into this weight; folding twice would divide by σ again.");
        using var noGrad = no_grad();
        using var sigma = SpectralNorm.Sigma(_weight, _u0, eps);
        Sigma = sigma.item<float>();
        _weight.div_(sigma);
    }

    public override Tensor forward(Tensor x) => F.linear(x, _weight, _bias); // [B, in] → [B, out]
}
