using FuseDream.Clip;
using TorchSharp;

namespace FuseDream.Generation;

/// <summary>
/// This thread's live tensors, less those it added to the process-wide caches (resize taps per size
/// pair, CLIP's mean and std per device and type): a run that first meets a new size pair caches its
/// taps for every later run, which is not a leak. What the benchmarks and the tests compare.
/// </summary>
public static class LiveTensorCount
{
    public static long Uncached =>
        DisposeScopeManager.Statistics.ThreadTotalLiveCount - BilinearResize.CachedTensorsMadeOnThisThread - ClipPreprocessing.CachedTensorsMadeOnThisThread;
}
