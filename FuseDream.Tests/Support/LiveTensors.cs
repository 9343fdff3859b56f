using FuseDream.Generation;

namespace FuseDream.Tests.Support;

/// <summary>This thread's live tensors, less those it added to the process-wide caches (see <see cref="LiveTensorCount"/>).</summary>
public static class LiveTensors
{
    public static long Uncached => LiveTensorCount.Uncached;
}
