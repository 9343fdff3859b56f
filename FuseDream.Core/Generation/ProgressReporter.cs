using System.Diagnostics;

namespace FuseDream.Generation;

/// <summary>Elapsed time, the phase's average rate so far (basis samples/s, steps/s) and a per-phase ETA from it.</summary>
internal sealed class ProgressReporter(IProgress<GenerationProgress>? progress)
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private GenerationPhase _phase = GenerationPhase.Loading;
    private TimeSpan _phaseStart;
    private int _phaseFirstStep;

    public void Report(GenerationPhase phase, int step, int total, double? augClip)
    {
        if (progress is null) return;
        var elapsed = _clock.Elapsed;
        if (phase != _phase)
        {
            _phase = phase;
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
        progress.Report(new GenerationProgress(phase, step, total, augClip, elapsed, eta) { Rate = rate });
    }
}
