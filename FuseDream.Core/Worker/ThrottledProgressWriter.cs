using FuseDream.Generation;
using Microsoft.Extensions.Logging;
using FuseDream.Persistence;

namespace FuseDream.Worker;

/// <summary>
/// Takes the pipeline's progress events without blocking it and writes the latest one to
/// PostgreSQL at most once per interval. Each write (or, with nothing new, a cheap read)
/// also returns the row's cancellation flag: the polling half of cancellation, which still
/// works when a notification was missed. Progress is best effort: a failed write is logged
/// and the run goes on; the result commit is what must succeed.
/// </summary>
internal sealed class ThrottledProgressWriter : IProgress<GenerationProgress>, IAsyncDisposable
{
    private readonly ProgressStore _store;
    private readonly Guid _generationId;
    private readonly TimeSpan _interval;
    private readonly CancellationTokenSource _cancelJob;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private GenerationProgress? _pending;

    public ThrottledProgressWriter(ProgressStore store, Guid generationId, TimeSpan interval, CancellationTokenSource cancelJob, ILogger logger)
    {
        _store = store;
        _generationId = generationId;
        _interval = interval;
        _cancelJob = cancelJob;
        _logger = logger;
        _loop = Task.Run(LoopAsync);
    }

    /// <summary>Progress writes that reached the database (for diagnostics and tests).</summary>
    public int Writes { get; private set; }

    public void Report(GenerationProgress value)
    {
        Interlocked.Exchange(ref _pending, value);
    }

    private async Task LoopAsync()
    {
        while (true)
        {
            try
            {
                await Task.Delay(_interval, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            await FlushAsync(signalCancel: true, _stop.Token);
        }
    }

    private async Task FlushAsync(bool signalCancel, CancellationToken cancellationToken)
    {
        var progress = Interlocked.Exchange(ref _pending, null);
        try
        {
            var cancel = progress is null
                ? await _store.IsCancelRequestedAsync(_generationId, cancellationToken)
                : await _store.WriteProgressAsync(_generationId, progress, cancellationToken);
            if (progress is not null) Writes++;
            if (cancel && signalCancel && !_cancelJob.IsCancellationRequested)
            {
                _logger.LogInformation("Generation {GenerationId} was canceled or is no longer running; stopping", _generationId);
                await _cancelJob.CancelAsync();
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopped mid-write: put the event back unless a newer one came, so that
            // DisposeAsync still writes the last one (the final step must not be lost).
            if (progress is not null) Interlocked.CompareExchange(ref _pending, progress, null);
        }
        catch (Exception ex)
        {
            _logger.LogWarning("Could not write progress of generation {GenerationId}: {Reason}", _generationId, ex.Message);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        // The last event (e.g. the final step) is written even if it came inside the interval.
        if (_pending is not null) await FlushAsync(signalCancel: false, CancellationToken.None);
        _stop.Dispose();
    }
}
