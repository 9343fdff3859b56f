using static TorchSharp.torch;

namespace FuseDream.Generation;

/// <summary>
/// How the over-parameterised softmax weights w_z, w_y [k, dim] start. The basis is ordered
/// best first (by plain CLIP score), so row 0 is the best basis sample.
/// <list type="bullet">
/// <item><c>paper</c>: w ~ N(0, 1), the original's: the first combination is a per-coordinate
/// blend of all k samples, which scores well below the best of them.</item>
/// <item><c>best</c>: w = <see cref="BestLogit"/> on the best sample's row plus
/// <see cref="BestNoise"/> × N(0, 1): the combination starts near the best sample (its weight is
/// e⁴ / (e⁴ + k − 1) ≈ 0.93 for k = 5), and the others keep a small weight, so they still
/// receive gradient and can be blended in.</item>
/// </list>
/// Both draw the same N(0, 1) tensor, so what is drawn after them does not depend on the choice.
/// </summary>
public static class LatentInit
{
    public const string Paper = "paper";
    public const string Best = "best";

    public static readonly IReadOnlyList<string> All = [Paper, Best];

    /// <summary>Logit of the best sample's row in the <c>best</c> start.</summary>
    public const double BestLogit = 4.0;

    /// <summary>Scale of the N(0, 1) noise on every logit in the <c>best</c> start.</summary>
    public const double BestNoise = 0.1;

    /// <summary>The starting weights [k, dim] from the N(0, 1) draw <paramref name="normal"/> (consumed).</summary>
    public static Tensor Weights(string init, Tensor normal)
    {
        ArgumentNullException.ThrowIfNull(normal);
        switch (init)
        {
            case Paper:
                return normal;
            case Best:
                using (var scope = NewDisposeScope())
                {
                    var weights = normal * BestNoise; // [k, dim]
                    weights.narrow(0, 0, 1).add_(BestLogit);
                    normal.Dispose();
                    return weights.MoveToOuterDisposeScope();
                }
            default:
                throw new ArgumentException($"Init: unknown start '{init}'; allowed: {string.Join(", ", All)}", nameof(init));
        }
    }
}
