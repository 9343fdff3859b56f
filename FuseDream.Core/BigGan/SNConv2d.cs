using TorchSharp;
using TorchSharp.Utils;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace FuseDream.BigGan;

/// <summary>
/// Mirrors <c>layers.SNConv2d</c> (BigGAN-PyTorch) in eval mode: stride 1, square kernel,
/// "same" padding. Differs deliberately: the weight is divided by σ once
/// (<see cref="FoldSpectralNorm"/>) instead of on every call (eval mode never updates <c>u0</c>,
/// so the numbers are the same). Parameters are frozen.
/// </summary>
public sealed class SNConv2d : nn.Module<Tensor, Tensor>, ISpectralNormLayer
{
    [ComponentName(Name = "weight")] private readonly Parameter _weight;
    [ComponentName(Name = "bias")] private readonly Parameter? _bias;
    [ComponentName(Name = "u0")] private readonly Tensor _u0;
    [ComponentName(Name = "sv0")] private readonly Tensor _sv0;
    private readonly long _padding;

    public SNConv2d(long inChannels, long outChannels, long kernelSize = 3, bool bias = true) : base(nameof(SNConv2d))
    {
        _weight = new Parameter(empty(outChannels, inChannels, kernelSize, kernelSize), requires_grad: false);
        _bias = bias ? new Parameter(zeros(outChannels), requires_grad: false) : null;
        _u0 = zeros(1, outChannels);
        _sv0 = ones(1);
        _padding = kernelSize / 2;
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

    // [B, in, H, W] → [B, out, H, W]
    public override Tensor forward(Tensor x) =>
        F.conv2d(x, _weight, _bias, padding: [_padding, _padding]);
}
