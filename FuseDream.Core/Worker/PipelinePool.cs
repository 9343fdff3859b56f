using System.Threading.Channels;
using FuseDream.Generation;

namespace FuseDream.Worker;

/// <summary>
/// The pipelines of this worker process, one per worker thread, built once at start (models
/// load once, not per job). Hangfire runs at most <see cref="WorkerOptions.Count"/> jobs at a
/// time, so a job always finds one free.
/// </summary>
internal sealed class PipelinePool : IAsyncDisposable
{
    private readonly Channel<IGenerationPipeline> _free = Channel.CreateUnbounded<IGenerationPipeline>();
    private readonly List<IGenerationPipeline> _all = [];

    /// <summary>Model ids every pipeline of the pool can run.</summary>
    public IReadOnlyList<string> Models { get; private set; } = [];

    /// <summary>CLIP model ids every pipeline of the pool can score with.</summary>
    public IReadOnlyList<string> Clips { get; private set; } = [];

    /// <summary>What the pool's models compute in and why (the first pipeline's: every thread resolves the same setting); null when its pipelines do not say.</summary>
    public FuseDream.Models.PrecisionChoice? Precision { get; private set; }

    public bool IsStarted => _all.Count > 0;

    public void Start(IGenerationPipelineFactory factory, int count)
    {
        if (IsStarted) throw new InvalidOperationException("The pipeline pool is already started.");
        factory.EnsureReady();
        for (var i = 0; i < count; i++)
        {
            var pipeline = factory.Create(i);
            _all.Add(pipeline);
            _free.Writer.TryWrite(pipeline);
        }
        Models = [.. _all.Select(p => (IEnumerable<string>)p.Models).Aggregate((a, b) => a.Intersect(b)).Order(StringComparer.Ordinal)];
        Clips = [.. _all.Select(p => (IEnumerable<string>)p.Clips).Aggregate((a, b) => a.Intersect(b))];
        Precision = _all[0].PrecisionUsed;
    }

    /// <summary>Takes a pipeline for one job; dispose the lease to give it back.</summary>
    public async Task<Lease> RentAsync(CancellationToken cancellationToken)
    {
        if (!IsStarted) throw new InvalidOperationException("The pipeline pool has not been started: this process is not a worker.");
        return new Lease(this, await _free.Reader.ReadAsync(cancellationToken));
    }

    public async ValueTask DisposeAsync()
    {
        _free.Writer.TryComplete();
        foreach (var pipeline in _all)
        {
            if (pipeline is IAsyncDisposable asyncDisposable) await asyncDisposable.DisposeAsync();
            else if (pipeline is IDisposable disposable) disposable.Dispose();
        }
        _all.Clear();
    }

    public readonly struct Lease(PipelinePool pool, IGenerationPipeline pipeline) : IDisposable
    {
        public IGenerationPipeline Pipeline => pipeline;

        public void Dispose() => pool._free.Writer.TryWrite(pipeline);
    }
}
