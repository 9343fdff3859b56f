using System.Collections.Concurrent;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using FuseDream.Persistence;

namespace FuseDream.Worker;

/// <summary>
/// The notified half of cancellation: LISTENs on <see cref="GenerationStateMachine.CancelChannel"/>
/// and cancels the token of the running job named in the notification, so a running
/// generation stops within one step. The connection is re-opened when it drops; the polling
/// half (<see cref="ThrottledProgressWriter"/>) covers notifications lost meanwhile.
/// </summary>
internal sealed class CancellationSignals(NpgsqlDataSource dataSource, ILogger<CancellationSignals> logger) : BackgroundService
{
    private readonly ConcurrentDictionary<Guid, CancellationTokenSource> _running = new();
    private readonly TaskCompletionSource _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private int _connections;

    /// <summary>Completes once the first LISTEN is in place.</summary>
    public Task Listening => _listening.Task;

    /// <summary>How many times a LISTEN connection was (re)established.</summary>
    public int Connections => Volatile.Read(ref _connections);

    /// <summary>Cancels <paramref name="source"/> when cancellation of <paramref name="generationId"/> is announced, until disposed.</summary>
    public IDisposable Register(Guid generationId, CancellationTokenSource source)
    {
        _running[generationId] = source;
        return new Registration(this, generationId, source);
    }

    /// <summary>Cancels the job of a generation running in this process; false when none is.</summary>
    private bool Signal(Guid generationId)
    {
        if (!_running.TryGetValue(generationId, out var source)) return false;
        try
        {
            source.Cancel();
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
        return true;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = await dataSource.OpenConnectionAsync(stoppingToken);
                connection.Notification += (_, e) =>
                {
                    if (Guid.TryParse(e.Payload, out var id) && Signal(id))
                        logger.LogInformation("Cancellation of generation {GenerationId} received", id);
                };
                await using (var listen = new NpgsqlCommand($"listen {GenerationStateMachine.CancelChannel}", connection))
                    await listen.ExecuteNonQueryAsync(stoppingToken);
                Interlocked.Increment(ref _connections);
                _listening.TrySetResult();
                while (!stoppingToken.IsCancellationRequested)
                    await connection.WaitAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is NpgsqlException or IOException or TimeoutException)
            {
                logger.LogWarning("Cancellation listener lost its connection ({Reason}); reconnecting", ex.Message);
                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(500), stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private sealed class Registration(CancellationSignals owner, Guid id, CancellationTokenSource source) : IDisposable
    {
        public void Dispose() => owner._running.TryRemove(new KeyValuePair<Guid, CancellationTokenSource>(id, source));
    }
}
