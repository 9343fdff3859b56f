using FuseDream.Clip;
using FuseDream.Generation;
using TorchSharp;

namespace FuseDream.Tests.Support;

/// <summary>
/// This thread's live tensors, less those this thread added to the process-wide caches (resize
/// taps, CLIP's mean and std per device): a run that first meets a new size pair caches its
/// taps for every later run, which is not a leak.
/// </summary>
public static class LiveTensors
{
    public static long Uncached =>
        DisposeScopeManager.Statistics.ThreadTotalLiveCount - BilinearResize.CachedTensorsMadeOnThisThread - ClipPreprocessing.CachedTensorsMadeOnThisThread;
}
