using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace FuseDream.BigGan;

/// <summary>
/// A layer whose weight the original divides by a spectral-norm estimate on every call
/// (<c>layers.SN.W_()</c>). Here the weights are frozen, so the division happens once.
/// </summary>
internal interface ISpectralNormLayer
{
    /// <summary>The σ the weight was divided by; NaN until <see cref="FoldSpectralNorm"/> ran.</summary>
    float Sigma { get; }

    /// <summary>Computes σ from the stored <c>u0</c> and divides the weight by it, in place.</summary>
    void FoldSpectralNorm(double eps);
}

/// <summary>
/// What <c>layers.SNLinear</c> and <c>layers.SNConv2d</c> share: the weight, an optional bias and
/// the spectral-norm buffers under the original's names (<c>weight</c>, <c>bias</c>, <c>u0</c>,
/// <c>sv0</c>), frozen, and the one-time division by σ. Subclasses say how the weight is applied.
/// </summary>
internal abstract class SpectralNormLayer : nn.Module<Tensor, Tensor>, ISpectralNormLayer
{
    // Protected, not private: TorchSharp finds a module's tensors (to register them, and to swap
    // them when the module moves to another device) among the fields the concrete type can see.
    [ComponentName(Name = "weight")] protected readonly Parameter _weight;
    [ComponentName(Name = "bias")] protected readonly Parameter? _bias;
    [ComponentName(Name = "u0")] protected readonly Tensor _u0;
    [ComponentName(Name = "sv0")] protected readonly Tensor _sv0; // the original's running σ; eval mode never reads it

    protected SpectralNormLayer(string name, long[] weightShape, bool bias) : base(name)
    {
        var outFeatures = weightShape[0];
        _weight = new Parameter(empty(weightShape), requires_grad: false);
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
        Sigma = Generation.HostRead.Scalar<float>(sigma);
        _weight.div_(sigma);
    }
}

/// <summary>
/// σ exactly as the original's eval mode computes it (<c>layers.power_iteration</c> with one
/// singular value, <c>update=False</c>): one power iteration from the stored <c>u0</c>, which is
/// left untouched; the <c>sv0</c> buffer is never read.
/// </summary>
internal static class SpectralNorm
{
    /// <summary>σ (a 0-dim tensor) of <paramref name="weight"/> viewed as [out, rest], starting from <paramref name="u0"/> [1, out].</summary>
    public static Tensor Sigma(Tensor weight, Tensor u0, double eps)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var w = weight.view(weight.shape[0], -1);            // [out, in·kh·kw]
        var v = F.normalize(u0.matmul(w), p: 2, dim: 1, eps: eps);        // [1, in·kh·kw]
        var u = F.normalize(v.matmul(w.t()), p: 2, dim: 1, eps: eps);     // [1, out]
        var sigma = v.matmul(w.t()).matmul(u.t()).squeeze();  // []
        return sigma.MoveToOuterDisposeScope();
    }
}
