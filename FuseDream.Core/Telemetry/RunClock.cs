using FuseDream.Generation;

namespace FuseDream.Telemetry;

/// <summary>
/// Passes a run's progress on unchanged and remembers, from the pipeline's own clock
/// (<see cref="GenerationProgress.Elapsed"/>), when each phase began and how many steps it
/// had, so that the job can record the phases' durations and the time per step and per basis
/// sample once the run ends.
/// </summary>
internal sealed class RunClock(IProgress<GenerationProgress>? inner) : IProgress<GenerationProgress>
{
    private readonly List<(GenerationPhase Phase, TimeSpan Start, int Total)> _phases = [];
    private TimeSpan _last;

    public void Report(GenerationProgress value)
    {
        lock (_phases)
        {
            if (_phases.Count == 0 || _phases[^1].Phase != value.Phase)
                _phases.Add((value.Phase, value.Elapsed, value.Total));
            else
                _phases[^1] = _phases[^1] with { Total = Math.Max(_phases[^1].Total, value.Total) };
            _last = value.Elapsed;
        }
        inner?.Report(value);
    }

    /// <summary>Each phase's duration (until the next began, or the last report) and its step count.</summary>
    public IReadOnlyList<(GenerationPhase Phase, TimeSpan Duration, int Total)> Phases()
    {
        lock (_phases)
        {
            var list = new List<(GenerationPhase, TimeSpan, int)>();
            for (var i = 0; i < _phases.Count; i++)
            {
                if (_phases[i].Phase == GenerationPhase.Finished) continue;
                var end = i + 1 < _phases.Count ? _phases[i + 1].Start : _last;
                list.Add((_phases[i].Phase, end - _phases[i].Start, _phases[i].Total));
            }
            return list;
        }
    }

    /// <summary>Records the run's phases in <paramref name="metrics"/>.</summary>
    public void Record(FuseDreamMetrics metrics)
    {
        foreach (var (phase, duration, total) in Phases())
        {
            var seconds = Math.Max(0, duration.TotalSeconds);
            metrics.Phase.WithLabels(NameOf(phase)).Observe(seconds);
            if (phase == GenerationPhase.Optimizing && total > 0) metrics.StepSeconds.Observe(seconds / total);
            if (phase == GenerationPhase.BasisSearch && total > 0) metrics.BasisSampleSeconds.Observe(seconds / total);
        }
    }

    internal static string NameOf(GenerationPhase phase) => phase switch
    {
        GenerationPhase.Loading => "loading",
        GenerationPhase.BasisSearch => "basis_search",
        GenerationPhase.Optimizing => "optimizing",
        GenerationPhase.Scoring => "scoring",
        _ => phase.ToString().ToLowerInvariant(),
    };
}
