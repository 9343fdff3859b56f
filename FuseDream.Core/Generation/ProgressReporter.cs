using System.Diagnostics;

namespace FuseDream.Generation;

/// <summary>Elapsed time, the phase's average rate so far (basis samples/s, steps/s) and a per-phase ETA from it.</summary>
internal sealed class ProgressReporter(IProgress<GenerationProgress>? progress)
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private GenerationPhase _phase = GenerationPhase.Loading;
    private int? _component;
    private TimeSpan _phaseStart;
    private int _phaseFirstStep;

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
            _phaseFirstStep = step;
        }
        TimeSpan? eta = null;
        if (phase == GenerationPhase.Finished) eta = TimeSpan.Zero;
        else if (step > 0 && total >= step)
            eta = TimeSpan.FromTicks((long)((elapsed - _phaseStart).Ticks * ((double)(total - step) / step)));
        // The rate counts from the phase's first report (the first batch or step is done by then).
        var phaseSeconds = (elapsed - _phaseStart).TotalSeconds;
        double? rate = step > _phaseFirstStep && phaseSeconds > 0 && phase is GenerationPhase.BasisSearch or GenerationPhase.Optimizing
            ? (step - _phaseFirstStep) / phaseSeconds
            : null;
        progress.Report(new GenerationProgress(phase, step, total, augClip, elapsed, eta)
        {
            Component = component?.Index,
            Components = component?.Count,
            Rate = rate,
        });
    }
}
