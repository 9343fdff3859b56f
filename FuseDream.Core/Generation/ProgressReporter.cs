using System.Diagnostics;

namespace FuseDream.Generation;

/// <summary>Elapsed time and a per-phase ETA from the phase's average rate so far.</summary>
internal sealed class ProgressReporter(IProgress<GenerationProgress>? progress)
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private GenerationPhase _phase = GenerationPhase.Loading;
    private int? _component;
    private TimeSpan _phaseStart;

    /// <param name="component">A composed generation's component (from 1) and the scene's count; each component's phases have their own ETA.</param>
    public void Report(GenerationPhase phase, int step, int total, double? augClip, (int Index, int Count)? component = null)
    {
        if (progress is null) return;
        var elapsed = _clock.Elapsed;
        if (phase != _phase || component?.Index != _component)
        {
            _phase = phase;
            _component = component?.Index;
            _phaseStart = elapsed;
        }
        TimeSpan? eta = null;
        if (phase == GenerationPhase.Finished) eta = TimeSpan.Zero;
        else if (step > 0 && total >= step)
            eta = TimeSpan.FromTicks((long)((elapsed - _phaseStart).Ticks * ((double)(total - step) / step)));
        progress.Report(new GenerationProgress(phase, step, total, augClip, elapsed, eta)
        {
            Component = component?.Index,
            Components = component?.Count,
        });
    }
}
