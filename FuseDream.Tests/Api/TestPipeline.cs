using System.Collections.Concurrent;
using FuseDream.Generation;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using FuseDream.Worker;

namespace FuseDream.Tests.Api;

/// <summary>
/// A small deterministic stand-in for the FuseDream algorithm, so the service's tests run in
/// milliseconds without models. It is not the thing under test: the service (API, queue,
/// worker, storage) is. It runs <c>Options.Steps</c> steps of <see cref="StepDelay"/> each,
/// reports progress every step, honours cancellation at every step, emits a preview every
/// <c>PreviewEvery</c> steps, and returns a real PNG (8×8, colour derived from prompt and
/// seed) with a trace of one point per step. A prompt containing <c>[fail]</c> fails like an
/// invalid request would; <c>[crash]</c> fails the way a driver does, with file paths and
/// host and user names in its message (<see cref="CrashMessage"/>); <c>[transient]</c> fails
/// with an I/O error on its first run, <c>[always-transient]</c> on every run.
/// </summary>
public sealed class TestPipeline(TestPipelineFactory owner) : IGenerationPipeline
{
    /// <summary>The text of a <c>[crash]</c>: what must never reach a client.</summary>
    public const string CrashMessage =
        "CUDA error: an illegal memory access was encountered in /srv/fusedream/models/clip-vit-b-32.pt " +
        "(worker gpu-node-7.internal:4242; Host=db.internal;Username=fusedream_admin)";

    public IReadOnlyList<string> Models => owner.Models;

    public async Task<GenerationResult> RunAsync(
        GenerationRequest request,
        IProgress<GenerationProgress>? progress,
        Func<GenerationPreview, CancellationToken, Task>? onPreview,
        CancellationToken cancellationToken)
    {
        var runs = owner.RecordRun(request.Prompt);
        if (request.Prompt.Contains("[fail]", StringComparison.Ordinal))
            throw new ArgumentException("The test pipeline refuses prompts containing [fail].");
        if (request.Prompt.Contains("[crash]", StringComparison.Ordinal))
            throw new InvalidOperationException(CrashMessage);
        if (request.Prompt.Contains("[transient]", StringComparison.Ordinal) && runs == 1)
            throw new IOException("Simulated disk hiccup on the first run.");
        if (request.Prompt.Contains("[always-transient]", StringComparison.Ordinal))
            throw new IOException($"Simulated disk hiccup, run {runs}.");

        var options = request.Options;
        var started = DateTime.UtcNow;
        var trace = new List<TracePoint>();
        for (var step = 1; step <= options.Steps; step++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            owner.RecordStep(request.Prompt, step);
            await Task.Delay(owner.StepDelay, cancellationToken);
            var loss = 1.0 / step + (request.Seed % 7) * 1e-3;
            double? augClip = options.ScoreEvery > 0 && step % options.ScoreEvery == 0 ? 0.2 + 0.001 * step : null;
            trace.Add(new TracePoint(step, loss, augClip));
            var elapsed = DateTime.UtcNow - started;
            progress?.Report(new GenerationProgress(GenerationPhase.Optimizing, step, options.Steps, augClip, elapsed,
                elapsed / step * (options.Steps - step)));
            if (PreviewSchedule.IsPreviewStep(options, step) && onPreview is not null) // the real pipeline's schedule
                await onPreview(new GenerationPreview(step, Png(request, step)), cancellationToken);
        }
        var score = 0.25 + (request.Seed % 100) * 1e-4;
        return new GenerationResult(Png(request, options.Steps), score, trace, request.Seed, options, [1f, 2f, 3f], [0.5f]);
    }

    /// <summary>An 8×8 PNG whose colour depends on prompt, seed and step.</summary>
    public static byte[] Png(GenerationRequest request, int step)
    {
        var hash = (uint)HashCode.Combine(request.Prompt.GetHashCode(StringComparison.Ordinal), request.Seed, step);
        using var image = new Image<Rgb24>(8, 8, new Rgb24((byte)hash, (byte)(hash >> 8), (byte)(hash >> 16)));
        using var stream = new MemoryStream();
        image.SaveAsPng(stream);
        return stream.ToArray();
    }
}

/// <summary>Builds <see cref="TestPipeline"/>s and counts how often each prompt ran.</summary>
public sealed class TestPipelineFactory : IGenerationPipelineFactory
{
    private readonly ConcurrentDictionary<string, int> _runs = new();
    private readonly ConcurrentDictionary<string, int> _steps = new();

    public IReadOnlyList<string> Models { get; init; } = [GenerationOptions.Models.BigGan256];

    public TimeSpan StepDelay { get; set; } = TimeSpan.FromMilliseconds(5);

    public int Created { get; private set; }

    public void EnsureReady()
    {
    }

    public IGenerationPipeline Create(int workerIndex)
    {
        Created++;
        return new TestPipeline(this);
    }

    public int RunsOf(string prompt) => _runs.GetValueOrDefault(prompt);

    internal int RecordRun(string prompt) => _runs.AddOrUpdate(prompt, 1, (_, n) => n + 1);

    /// <summary>The step the latest run of <paramref name="prompt"/> has started.</summary>
    public int StepOf(string prompt) => _steps.GetValueOrDefault(prompt);

    internal void RecordStep(string prompt, int step) => _steps[prompt] = step;
}
