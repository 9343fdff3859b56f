using static TorchSharp.torch;

namespace FuseDream.Generation;

/// <summary>
/// The production source of randomness: a private CPU <see cref="Generator"/> (never the
/// process-global one, so concurrent runs cannot disturb each other) for tensor draws, and a
/// numpy-compatible MT19937 for the scalar resize draw. Seeded with <c>s</c>, it reproduces
/// the draws of the original after <c>torch.manual_seed(s); np.random.seed(s &amp; 0xFFFFFFFF)</c>
/// on a CPU. Tensors are drawn on the CPU and then moved, so a seed gives the same draws on
/// every device.
/// </summary>
public sealed class TorchRandomSource : IRandomSource, IDisposable
{
    private readonly Generator _generator;
    private readonly NumpyRandomState _numpy;

    public TorchRandomSource(long seed) : this(seed, unchecked((uint)seed))
    {
    }

    /// <summary>Separate seeds for the tensor draws and for the numpy-style scalar draw.</summary>
    public TorchRandomSource(long torchSeed, uint numpySeed)
    {
        Seed = torchSeed;
        _generator = new Generator(unchecked((ulong)torchSeed), CPU);
        _numpy = new NumpyRandomState(numpySeed);
    }

    public long Seed { get; }

    public Tensor Rand(long[] shape, Device device) =>
        Place(rand(shape, ScalarType.Float32, CPU, generator: _generator), device);

    public Tensor RandN(long[] shape, Device device) =>
        Place(randn(shape, ScalarType.Float32, CPU, generator: _generator), device);

    public Tensor RandInt(long low, long high, long[] shape, Device device) =>
        Place(randint(low, high, shape, ScalarType.Int64, CPU, generator: _generator), device);

    public double UniformScalar() => _numpy.RandomSample();

    /// <summary>A second, independent stream derived from a seed (for measurements that must not disturb the main stream).</summary>
    public static long DeriveSeed(long seed, ulong stream)
    {
        // SplitMix64 finaliser: neighbouring seeds give unrelated streams.
        var z = unchecked((ulong)seed + 0x9E3779B97F4A7C15UL * (stream + 1));
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        return unchecked((long)(z ^ (z >> 31)));
    }

    private static Tensor Place(Tensor drawn, Device device)
    {
        if (device.type == TorchSharp.DeviceType.CPU) return drawn;
        using (drawn) return drawn.to(device);
    }

    public void Dispose() => _generator.Dispose();
}
