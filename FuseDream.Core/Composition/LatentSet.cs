using static TorchSharp.torch;

namespace FuseDream.Composition;

/// <summary>
/// An over-parameterised latent as FuseDream optimises it: softmax weights and bases for z and
/// y, combined per coordinate (z = Σₖ softmax(w_z)ₖ ⊙ basis_zₖ, y likewise, as
/// <see cref="Generation.LatentOptimizer"/>). The four tensors, in the order
/// <c>WeightsZ, WeightsY, BasisZ, BasisY</c>, are what the fusion differentiates and updates.
/// </summary>
internal static class LatentSet
{
    public const int WeightsZ = 0, WeightsY = 1, BasisZ = 2, BasisY = 3, Count = 4;

    /// <summary>z [1, dimZ] and y [1, embedding] of <paramref name="parts"/> (differentiable).</summary>
    public static (Tensor Z, Tensor Y) Combine(IReadOnlyList<Tensor> parts)
    {
        var z = (softmax(parts[WeightsZ], 0) * parts[BasisZ]).sum(0, keepdim: true); // [1, dimZ]
        var y = (softmax(parts[WeightsY], 0) * parts[BasisY]).sum(0, keepdim: true); // [1, embedding]
        return (z, y);
    }

    /// <summary>Detached copies of <paramref name="parts"/>, outside every dispose scope (the caller owns them).</summary>
    public static Tensor[] DetachedCopy(IReadOnlyList<Tensor> parts)
    {
        var copies = new Tensor[parts.Count];
        using var scope = NewDisposeScope(); // takes the detached views
        for (var i = 0; i < parts.Count; i++)
            copies[i] = parts[i].detach().clone().DetachFromDisposeScope();
        return copies;
    }
}

/// <summary>
/// Adam (Kingma and Ba; torch.optim.Adam's update without weight decay) written as tensor ops,
/// so that the updated parameters stay a differentiable function of the gradients: unrolled
/// through K steps, the outer level can back-propagate through the inner optimiser.
/// </summary>
internal static class UnrolledAdam
{
    public const double Beta1 = 0.9;
    public const double Beta2 = 0.999;
    public const double Epsilon = 1e-8;

    /// <summary>
    /// Under the square root of v̂: the update's derivative through √v̂ is then finite where a
    /// gradient coordinate is exactly 0 (√ has an infinite slope at 0, which would make 0 · ∞ = NaN).
    /// It changes the step by less than 1e-8 · lr.
    /// </summary>
    public const double SqrtFloor = 1e-16;

    /// <summary>
    /// Step <paramref name="step"/> (from 1) of Adam for each (parameter, gradient, first moment,
    /// second moment): returns the new parameters and moments (new tensors, in the caller's scope).
    /// </summary>
    public static (Tensor[] Parameters, Tensor[] First, Tensor[] Second) Step(
        IReadOnlyList<Tensor> parameters, IReadOnlyList<Tensor> gradients, IReadOnlyList<Tensor> first, IReadOnlyList<Tensor> second,
        int step, double learningRate)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(step, 1);
        var n = parameters.Count;
        var p = new Tensor[n];
        var m = new Tensor[n];
        var v = new Tensor[n];
        var correction1 = 1 - Math.Pow(Beta1, step);
        var correction2 = 1 - Math.Pow(Beta2, step);
        for (var i = 0; i < n; i++)
        {
            var g = gradients[i];
            m[i] = first[i] * Beta1 + g * (1 - Beta1);
            v[i] = second[i] * Beta2 + g * g * (1 - Beta2);
            var mHat = m[i] / correction1;
            var vHat = v[i] / correction2;
            p[i] = parameters[i] - learningRate * mHat / ((vHat + SqrtFloor).sqrt() + Epsilon);
        }
        return (p, m, v);
    }
}
