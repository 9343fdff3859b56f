using static TorchSharp.torch;

namespace FuseDream.Generation;

/// <summary>
/// The best measured latent of a run so far (option <c>KeepBest</c>): each measurement offers the
/// noise-free combination it measured; the one with the highest score is kept (copied, owned here).
/// </summary>
public sealed class BestLatent : IDisposable
{
    private Tensor? _z;
    private Tensor? _y;

    /// <summary>The step whose latent is kept; null before any offer.</summary>
    public int? Step { get; private set; }

    /// <summary>Its measured score.</summary>
    public double Score { get; private set; } = double.NegativeInfinity;

    /// <summary>Keeps copies of <paramref name="z"/> and <paramref name="y"/> when <paramref name="score"/> beats the kept one; returns whether it did.</summary>
    public bool Offer(int step, double score, Tensor z, Tensor y)
    {
        ArgumentNullException.ThrowIfNull(z);
        ArgumentNullException.ThrowIfNull(y);
        if (Step is not null && !(score > Score)) return false;
        _z?.Dispose();
        _y?.Dispose();
        using (NewDisposeScope())
        {
            _z = z.detach().clone().DetachFromDisposeScope();
            _y = y.detach().clone().DetachFromDisposeScope();
        }
        Step = step;
        Score = score;
        return true;
    }

    /// <summary>Copies of the kept latents (the caller owns them); null before any offer.</summary>
    public (Tensor Z, Tensor Y)? Copy() => _z is null || _y is null ? null : (_z.clone(), _y.clone());

    public void Dispose()
    {
        _z?.Dispose();
        _y?.Dispose();
        _z = _y = null;
    }
}
