using static TorchSharp.torch;

namespace FuseDream.Generation;

/// <summary>
/// Every random draw the generation makes, in the order the original makes it. Production
/// code draws from <see cref="TorchRandomSource"/>; parity tests replay the draws recorded
/// from the original, so the algorithm is checked independently of any generator.
/// </summary>
public interface IRandomSource
{
    /// <summary><c>torch.rand(shape)</c>: float32 uniform in [0, 1), placed on <paramref name="device"/>.</summary>
    Tensor Rand(long[] shape, Device device);

    /// <summary><c>torch.randn(shape)</c>: float32 standard normal, placed on <paramref name="device"/>.</summary>
    Tensor RandN(long[] shape, Device device);

    /// <summary><c>torch.randint(low, high, shape)</c>: int64 in [low, high), placed on <paramref name="device"/>.</summary>
    Tensor RandInt(long low, long high, long[] shape, Device device);

    /// <summary><c>np.random.rand()</c>: one float64 uniform in [0, 1) (the original's resize ratio draw).</summary>
    double UniformScalar();
}
