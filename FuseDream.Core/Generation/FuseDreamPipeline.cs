using FuseDream.BigGan;
using FuseDream.Clip;
using FuseDream.Imaging;
using FuseDream.Models;
using TorchSharp;
using static TorchSharp.torch;
using FuseDream.Checkpoints;

namespace FuseDream.Generation;

/// <summary>
/// FuseDream end to end (the paper's AugCLIP + initialisation + over-parameterisation):
/// encode the prompt once, search the basis, optimise the latents, measure AugCLIP, write the
/// PNG with its provenance. Models are loaded once and kept frozen (eval, no parameter
/// gradients); one run at a time. Randomness: one stream seeded with the request's seed for
/// everything the original draws (basis samples, softmax weights, latent noise, augmentations),
/// and a second stream derived from it for AugCLIP measurements, so measuring more or less
/// often does not change the image. Same seed, options, tuning and device → the same image on CPU.
/// </summary>
public sealed class FuseDreamPipeline : IGenerationPipeline, IDisposable
{
    private readonly ClipModel _clip;
    private readonly Dictionary<string, BigGanGenerator> _generators;
    private readonly Device _device;
    private readonly IReadOnlyDictionary<string, string> _clipHash;
    private readonly Dictionary<string, string> _generatorHashes;
    private readonly PipelineTuning _tuning;
    private readonly bool _ownsModels;

    /// <summary>
    /// Wraps already loaded models (the pipeline freezes them and converts them to
    /// <paramref name="precision"/>, by default fp32, which leaves them as they are; it does not
    /// dispose them). <see cref="Load"/> resolves <c>auto</c> to the device's default.
    /// </summary>
    public FuseDreamPipeline(ClipModel clip, IEnumerable<BigGanGenerator> generators, Device device,
        IReadOnlyDictionary<string, string>? modelHashes = null, PipelineTuning? tuning = null, Precision precision = Precision.Fp32)
        : this(clip, generators, device, modelHashes, tuning, precision, ownsModels: false)
    {
    }

    private FuseDreamPipeline(ClipModel clip, IEnumerable<BigGanGenerator> generators, Device device,
        IReadOnlyDictionary<string, string>? modelHashes, PipelineTuning? tuning, Precision precision, bool ownsModels)
    {
        ArgumentNullException.ThrowIfNull(clip);
        ArgumentNullException.ThrowIfNull(generators);
        ArgumentNullException.ThrowIfNull(device);
        _clip = clip;
        _device = device;
        _tuning = tuning ?? new PipelineTuning();
        if (_tuning.BasisBatchSize < 1) throw new ArgumentOutOfRangeException(nameof(tuning), $"BasisBatchSize must be at least 1 (got {_tuning.BasisBatchSize})");
        if (_tuning.MeasureBatchSize < 1) throw new ArgumentOutOfRangeException(nameof(tuning), $"MeasureBatchSize must be at least 1 (got {_tuning.MeasureBatchSize})");
        _ownsModels = ownsModels;
        _generators = new Dictionary<string, BigGanGenerator>(StringComparer.Ordinal);
        foreach (var generator in generators)
        {
            var id = ModelId(generator);
            if (!_generators.TryAdd(id, generator))
                throw new ArgumentException($"two generators for {id}; give one checkpoint per resolution", nameof(generators));
        }
        if (_generators.Count == 0) throw new ArgumentException("no BigGAN generator given", nameof(generators));
        var hashes = modelHashes ?? new Dictionary<string, string>();
        _clipHash = hashes.TryGetValue("clip", out var clipHash) ? new Dictionary<string, string> { ["clip"] = clipHash } : new Dictionary<string, string>();
        _generatorHashes = _generators.Keys.Where(hashes.ContainsKey).ToDictionary(k => k, k => hashes[k]);
        Precision = precision;
        Freeze(_clip, Precision);
        foreach (var generator in _generators.Values) Freeze(generator, Precision);
    }

    /// <summary>
    /// Loads the models named in <paramref name="settings"/>, with clear errors for missing or wrong
    /// files. The files' SHA-256 come from their <see cref="ModelFile"/>s, which work each out once
    /// however many pipelines share them.
    /// </summary>
    public static FuseDreamPipeline Load(FuseDreamPipelineSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var device = DeviceSelector.Parse(settings.Device);
        var precision = ModelPrecision.Resolve(settings.Precision, device);
        if (settings.BigGans.Count == 0)
            throw new ArgumentException("no BigGAN checkpoint given; pass the path of biggan-256.pth or biggan-512.pth");
        RequireFile(settings.Clip.Path, "CLIP model");
        foreach (var file in settings.BigGans) RequireFile(file.Path, "BigGAN generator");

        var hashes = new Dictionary<string, string> { ["clip"] = settings.Clip.Sha256 };
        ClipModel clip;
        try { clip = ClipCheckpoint.Load(settings.Clip.Path, device); }
        catch (Exception ex) when (ex is not FileNotFoundException)
        {
            throw new InvalidDataException($"'{settings.Clip.Path}' could not be loaded as a CLIP model: {ex.Message}", ex);
        }
        var generators = new List<BigGanGenerator>();
        try
        {
            foreach (var file in settings.BigGans)
            {
                var path = file.Path;
                BigGanGenerator generator;
                try { generator = BigGanCheckpoint.Load(path, null, device); }
                catch (Exception ex) when (ex is not FileNotFoundException)
                {
                    throw new InvalidDataException($"'{path}' could not be loaded as a BigGAN generator: {ex.Message}", ex);
                }
                generators.Add(generator);
                hashes[ModelId(generator)] = file.Sha256;
            }
            return new FuseDreamPipeline(clip, generators, device, hashes, settings.Tuning, precision, ownsModels: true);
        }
        catch
        {
            clip.Dispose();
            foreach (var g in generators) g.Dispose();
            throw;
        }
    }

    public IReadOnlyList<string> Models => [.. _generators.Keys.Order(StringComparer.Ordinal)];

    public Device Device => _device;

    /// <summary>What the models compute in: fp32, or bf16 with float32 latents, loss and Adam state.</summary>
    public Precision Precision { get; }

    public ClipModel Clip => _clip;

    public BigGanGenerator Generator(string model) =>
        _generators.TryGetValue(model, out var generator)
            ? generator
            : throw new ArgumentException($"Model: '{model}' is not loaded by this pipeline; loaded: {string.Join(", ", Models)}", nameof(model));

    public async Task<GenerationResult> RunAsync(
        GenerationRequest request,
        IProgress<GenerationProgress>? progress,
        Func<GenerationPreview, CancellationToken, Task>? onPreview,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var options = request.Options ?? throw new ArgumentException("Options: missing", nameof(request));
        options.EnsureValid();
        if (string.IsNullOrWhiteSpace(request.Prompt))
            throw new ArgumentException("Prompt: empty; give a text describing the image", nameof(request));
        var generator = Generator(options.Model);
        cancellationToken.ThrowIfCancellationRequested();

        var reporter = new ProgressReporter(progress);
        reporter.Report(GenerationPhase.Loading, 0, 1, null);
        using var random = new TorchRandomSource(request.Seed);
        using var measureRandom = new TorchRandomSource(TorchRandomSource.DeriveSeed(request.Seed, 1));
        AugClipScorer? scorer = null;
        LatentBasis? basis = null;
        LatentOptimizer? optimizer = null;
        try
        {
            scorer = AugClipScorer.ForPrompt(_clip, request.Prompt, _device);
            scorer.FusedResize = _tuning.FusedResize;

            var search = new BasisSearchSettings(options.BasisIterations, options.SamplesPerIteration, options.TopK, _tuning.BasisBatchSize);
            basis = BasisSearch.Run(generator, scorer, search, random, _device,
                onProgress: (done, total) => reporter.Report(GenerationPhase.BasisSearch, (int)Math.Min(done, int.MaxValue), (int)Math.Min(total, int.MaxValue), null),
                cancellationToken: cancellationToken);
            double basisAugClip;
            using (NewDisposeScope())
                basisAugClip = MeasureLatents(generator, scorer, basis.Z.narrow(0, 0, 1), basis.Y.narrow(0, 0, 1), options.FinalAugmentations, measureRandom);

            optimizer = new LatentOptimizer(generator, scorer, basis.Z, basis.Y, LatentOptimizerSettings.From(options), random, _device);
            using var best = new BestLatent();
            var flat = new FlatStopRule(options.Patience, options.MinImprovement);
            var trace = new List<TracePoint>(options.Steps);
            var stepsRun = 0;
            var stopReason = StopReasons.Steps;
            // A step's loss is read back when the next step has been queued (or when the host
            // has to wait anyway: a measurement, a preview, the end), so on a GPU the device is
            // never idle while the host reads it. Its trace point and progress follow then.
            (int Step, Tensor Loss)? pending = null;
            void Settle(double? measured, int total)
            {
                if (pending is not { } p) return;
                double loss;
                using (p.Loss) loss = LatentOptimizer.ReadLoss(p.Loss);
                pending = null;
                trace.Add(new TracePoint(p.Step, loss, measured));
                reporter.Report(GenerationPhase.Optimizing, p.Step, total, measured ?? -loss);
            }
            try
            {
                for (var step = 1; step <= options.Steps; step++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var loss = optimizer.StepWithoutReading();
                    Settle(null, options.Steps); // the previous step's, now that this one is queued
                    pending = (step, loss);
                    stepsRun = step;
                    var measuring = options.ScoreEvery > 0 && step % options.ScoreEvery == 0;
                    var previewing = onPreview is not null && PreviewSchedule.IsPreviewStep(options, step);
                    if (!measuring && !previewing) continue;
                    double? measured = null;
                    if (measuring)
                    {
                        var (z, y) = optimizer.Combine();
                        using (z)
                        using (y)
                        using (var draws = MeasurementDraws(request.Seed, step))
                        {
                            measured = MeasureLatents(generator, scorer, z, y, options.Augmentations, draws);
                            if (options.KeepBest) best.Offer(step, measured.Value, z, y);
                        }
                    }
                    var stop = measured is { } score && flat.Add(score);
                    // Stopping early completes the phase at this step, so its progress and ETA stay true.
                    Settle(measured, stop ? step : options.Steps);
                    if (previewing)
                    {
                        var png = RenderCurrent(generator, optimizer);
                        await onPreview!(new GenerationPreview(step, png), cancellationToken).ConfigureAwait(false);
                    }
                    if (stop)
                    {
                        stopReason = StopReasons.Flat;
                        break;
                    }
                }
                Settle(null, options.Steps);
            }
            finally
            {
                pending?.Loss.Dispose();
            }

            cancellationToken.ThrowIfCancellationRequested();
            reporter.Report(GenerationPhase.Scoring, 0, 1, trace.LastOrDefault()?.AugClip);
            var kept = options.KeepBest ? best.Copy() : null;
            var resultStep = kept is null ? stepsRun : best.Step!.Value;
            var (finalZ, finalY) = kept ?? optimizer.Result();
            using (finalZ)
            using (finalY)
            using (var image = Render(generator, finalZ, finalY))
            {
                var score = scorer.MeasureAugClip(image, options.FinalAugmentations, measureRandom, _tuning.MeasureBatchSize);
                var provenance = new ImageProvenance
                {
                    Prompt = request.Prompt,
                    Seed = request.Seed,
                    Options = options,
                    ModelSha256 = ModelHashes(options.Model),
                    Device = _device.type.ToString().ToLowerInvariant(),
                    Precision = ModelPrecision.Name(Precision),
                    AugClipScore = score,
                };
                var png = ProvenancePng.Encode(image, provenance);
                reporter.Report(GenerationPhase.Finished, stepsRun, stepsRun, score);
                return new GenerationResult(png, score, trace, request.Seed, options, ToArray(finalZ), ToArray(finalY))
                {
                    StepsRun = stepsRun,
                    StopReason = stopReason,
                    ResultStep = resultStep,
                    BasisScores = basis.Scores,
                    BasisAugClip = basisAugClip,
                    Provenance = provenance,
                };
            }
        }
        finally
        {
            // Cancelled or not: the latents, the optimiser state and the text features go now.
            optimizer?.Dispose();
            basis?.Dispose();
            scorer?.Dispose();
        }
    }

    /// <summary>
    /// The augmentation draws of the trace's measurement at <paramref name="step"/>: a stream of
    /// its own per (seed, step), so two runs of one seed that differ in their options are measured
    /// at the same step with the same augmentations (paired), and re-measuring a kept latent with
    /// the draws of its step gives its trace score again.
    /// </summary>
    public static TorchRandomSource MeasurementDraws(long seed, int step) =>
        new(TorchRandomSource.DeriveSeed(seed, 2 + (ulong)step));

    /// <summary>SHA-256 of the model files behind <paramref name="model"/>, by role.</summary>
    private IReadOnlyDictionary<string, string> ModelHashes(string model)
    {
        var hashes = new Dictionary<string, string>(_clipHash);
        if (_generatorHashes.TryGetValue(model, out var hash)) hashes["biggan"] = hash;
        return hashes;
    }

    private double MeasureLatents(BigGanGenerator generator, AugClipScorer scorer, Tensor z, Tensor y, int count, IRandomSource random)
    {
        using var image = Render(generator, z, y);
        return scorer.MeasureAugClip(image, count, random, _tuning.MeasureBatchSize);
    }

    private static Tensor Render(BigGanGenerator generator, Tensor z, Tensor y)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        return generator.Generate(z, y).detach().MoveToOuterDisposeScope(); // [1, 3, R, R]
    }

    private static byte[] RenderCurrent(BigGanGenerator generator, LatentOptimizer optimizer)
    {
        using var scope = NewDisposeScope();
        var (z, y) = optimizer.Combine();
        return PngImage.Encode(Render(generator, z, y));
    }

    private static float[] ToArray(Tensor t)
    {
        using var scope = NewDisposeScope();
        return t.detach().to(float32).cpu().contiguous().data<float>().ToArray();
    }

    public static string ModelId(BigGanGenerator generator) => $"biggan-{generator.Resolution}";

    private static void RequireFile(string path, string what)
    {
        if (string.IsNullOrWhiteSpace(path))
            throw new ArgumentException($"no {what} file given");
        if (Directory.Exists(path))
            throw new ArgumentException($"the {what} path '{path}' is a directory; give the checkpoint file itself");
        if (!File.Exists(path))
            throw new FileNotFoundException($"{what} file not found: '{Path.GetFullPath(path)}'", path);
    }

    private static void Freeze(nn.Module module, Precision precision)
    {
        module.eval();
        foreach (var parameter in module.parameters()) parameter.requires_grad = false;
        ModelPrecision.ApplyTo(module, precision);
    }

    public void Dispose()
    {
        if (!_ownsModels) return;
        _clip.Dispose();
        foreach (var generator in _generators.Values) generator.Dispose();
    }
}
