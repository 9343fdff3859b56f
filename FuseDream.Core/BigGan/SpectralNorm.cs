using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace FuseDream.BigGan;

/// <summary>
/// A layer whose weight the original divides by a spectral-norm estimate on every call
/// (<c>layers.SN.W_()</c>). Here the weights are frozen, so the division happens once.
/// </summary>
public interface ISpectralNormLayer
{
    /// <summary>The σ the weight was divided by; NaN until <see cref="FoldSpectralNorm"/> ran.</summary>
    float Sigma { get; }

    /// <summary>Computes σ from the stored <c>u0</c> and divides the weight by it, in place.</summary>
    void FoldSpectralNorm(double eps);
}

/// <summary>
/// σ exactly as the original's eval mode computes it (<c>layers.power_iteration</c> with one
/// singular value, <c>update=False</c>): one power iteration from the stored <c>u0</c>, which is
/// left untouched; the <c>sv0</c> buffer is never read.
/// </summary>
public static class SpectralNorm
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
