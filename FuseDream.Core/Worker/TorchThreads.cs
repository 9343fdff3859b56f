using TorchSharp;

namespace FuseDream.Worker;

/// <summary>
/// libtorch's intra-op CPU threads, set once per process from configuration (<c>Worker:Threads</c>
/// for <c>serve</c>, <c>--threads</c> for the command line). The default is the cores this process
/// may use (<see cref="Environment.ProcessorCount"/>, which follows the CPU affinity mask and a
/// container's CPU limit), not libtorch's own guess (the machine's physical cores). Several
/// processes on the same cores each take that many threads; they then oversubscribe the cores
/// and every one of them slows down badly, so give each a share (docs/operations.md).
/// </summary>
public static class TorchThreads
{
    /// <summary>The cores this process may use.</summary>
    public static int Default => Environment.ProcessorCount;

    /// <summary>
    /// Sets the thread count: <paramref name="requested"/> when given and positive, libtorch's own
    /// choice for 0, <see cref="Default"/> when null. Returns the count in effect.
    /// </summary>
    public static int Apply(int? requested)
    {
        if (requested is < 0) throw new ArgumentOutOfRangeException(nameof(requested), requested, "threads must be at least 1, or 0 for libtorch's choice");
        if (requested != 0) torch.set_num_threads(requested ?? Default);
        return torch.get_num_threads();
    }
}
