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
    private readonly Dictionary<string, ClipModel> _clips; // by ClipModelIds.Of; _clip is the default
    private readonly Dictionary<string, BigGanGenerator> _generators;
    private readonly Device _device;
    private readonly IReadOnlyDictionary<string, string> _clipHash;
    private readonly Dictionary<string, string> _generatorHashes;
    private readonly Dictionary<string, string> _extraClipHashes;
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

    /// <summary>
    /// Wraps already loaded models with several CLIPs: the first is the default, every one may be
    /// named in <see cref="GenerationOptions.Clips"/> by its <see cref="ClipModelIds"/> id. Hashes
    /// are by role: <c>clip</c> for the first, the CLIP's id for the others, the model id for generators.
    /// </summary>
    public FuseDreamPipeline(IReadOnlyList<ClipModel> clips, IEnumerable<BigGanGenerator> generators, Device device,
        IReadOnlyDictionary<string, string>? modelHashes = null, PipelineTuning? tuning = null, Precision precision = Precision.Fp32)
        : this(clips, generators, device, modelHashes, tuning, precision, ownsModels: false)
    {
    }

    private FuseDreamPipeline(ClipModel clip, IEnumerable<BigGanGenerator> generators, Device device,
        IReadOnlyDictionary<string, string>? modelHashes, PipelineTuning? tuning, Precision precision, bool ownsModels)
        : this([clip], generators, device, modelHashes, tuning, precision, ownsModels)
    {
    }

    private FuseDreamPipeline(IReadOnlyList<ClipModel> clips, IEnumerable<BigGanGenerator> generators, Device device,
        IReadOnlyDictionary<string, string>? modelHashes, PipelineTuning? tuning, Precision precision, bool ownsModels)
    {
        ArgumentNullException.ThrowIfNull(clips);
        ArgumentNullException.ThrowIfNull(generators);
        ArgumentNullException.ThrowIfNull(device);
        if (clips.Count == 0 || clips[0] is null) throw new ArgumentException("no CLIP model given", nameof(clips));
        _clip = clips[0];
        _clips = new Dictionary<string, ClipModel>(StringComparer.Ordinal);
        foreach (var clip in clips)
        {
            ArgumentNullException.ThrowIfNull(clip, nameof(clips));
            var id = ClipModelIds.Of(clip.Config);
            if (!_clips.TryAdd(id, clip))
                throw new ArgumentException($"two CLIP checkpoints of one shape ({id}); give each CLIP model once", nameof(clips));
        }
        _device = device;
        _tuning = tuning ?? new PipelineTuning();
        if (_tuning.BasisBatchSize < 0) throw new ArgumentOutOfRangeException(nameof(tuning), $"BasisBatchSize must be at least 1, or 0 to choose it from memory (got {_tuning.BasisBatchSize})");
        if (_tuning.BasisMemoryShare is <= 0 or > 1) throw new ArgumentOutOfRangeException(nameof(tuning), $"BasisMemoryShare must be in (0, 1] (got {_tuning.BasisMemoryShare})");
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
        _extraClipHashes = _clips.Keys.Where(hashes.ContainsKey).ToDictionary(k => k, k => hashes[k]);
        _generatorHashes = _generators.Keys.Where(hashes.ContainsKey).ToDictionary(k => k, k => hashes[k]);
        PrecisionUsed = new PrecisionChoice(precision, "set explicitly");
        foreach (var clip in _clips.Values) Freeze(clip, Precision);
        foreach (var generator in _generators.Values) Freeze(generator, Precision);
        // After the models are on the device, so what is available leaves them out.
        BasisBatch = _tuning.BasisBatchSize == PipelineTuning.ChooseFromMemory
            ? BasisBatchSizing.Choose(_generators.Values.Max(g => g.Resolution), device, _tuning.BasisMemoryShare)
            : new BasisBatchChoice(_tuning.BasisBatchSize, "set explicitly");
        _tuning = _tuning with { BasisBatchSize = BasisBatch.Size };
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
        var precision = ModelPrecision.Choose(settings.Precision, device);
        if (settings.BigGans.Count == 0)
            throw new ArgumentException("no BigGAN checkpoint given; pass the path of biggan-256.pth or biggan-512.pth");
        RequireFile(settings.Clip.Path, "CLIP model");
        foreach (var file in settings.ExtraClips) RequireFile(file.Path, "CLIP model");
        foreach (var file in settings.BigGans) RequireFile(file.Path, "BigGAN generator");

        var hashes = new Dictionary<string, string> { ["clip"] = settings.Clip.Sha256 };
        var clips = new List<ClipModel>();
        var generators = new List<BigGanGenerator>();
        try
        {
            foreach (var file in (IEnumerable<ModelFile>)[settings.Clip, .. settings.ExtraClips])
            {
                ClipModel loaded;
                try { loaded = ClipCheckpoint.Load(file.Path, device); }
                catch (Exception ex) when (ex is not FileNotFoundException)
                {
                    throw new InvalidDataException($"'{file.Path}' could not be loaded as a CLIP model: {ex.Message}", ex);
                }
                clips.Add(loaded);
                if (clips.Count > 1) hashes[ClipModelIds.Of(loaded.Config)] = file.Sha256;
            }
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
            return new FuseDreamPipeline(clips, generators, device, hashes, settings.Tuning, precision.Precision, ownsModels: true) { PrecisionUsed = precision };
        }
        catch
        {
            foreach (var c in clips) c.Dispose();
            foreach (var g in generators) g.Dispose();
            throw;
        }
    }

    public IReadOnlyList<string> Models => [.. _generators.Keys.Order(StringComparer.Ordinal)];

    public Device Device => _device;

    /// <summary>Batch sizes this pipeline runs with (a basis batch size left to it is the one it chose).</summary>
    public PipelineTuning Tuning => _tuning;

    /// <summary>The basis batch size and why: set, or chosen from memory (<see cref="BasisBatchSizing"/>).</summary>
    public BasisBatchChoice BasisBatch { get; }

    /// <summary>What the models compute in: fp32, or bf16 with float32 latents, loss and Adam state.</summary>
    public Precision Precision => PrecisionUsed.Precision;

    /// <summary><see cref="Precision"/> and why: what <c>auto</c> resolved to (<see cref="Load"/>), or as the caller gave it.</summary>
    public PrecisionChoice PrecisionUsed { get; private init; }

    public ClipModel Clip => _clip;

    /// <summary>The ids of the CLIPs loaded (<see cref="ClipModelIds"/>), the default first.</summary>
    public IReadOnlyList<string> Clips => [.. _clips.Keys];

    /// <summary>The CLIPs and weights that score <paramref name="options"/>: its <see cref="GenerationOptions.Clips"/>, or the default CLIP alone.</summary>
    public IReadOnlyList<(ClipModel Clip, double Weight)> ScoringClips(GenerationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Clips is null) return [(_clip, 1.0)];
        return [.. options.Clips.Select((c, i) => _clips.TryGetValue(c.Model, out var clip)
            ? (clip, c.Weight)
            : throw new ClipNotLoadedException($"Clips[{i}].Model: CLIP '{c.Model}' is not loaded by this worker; loaded: {string.Join(", ", _clips.Keys)}", nameof(options)))];
    }

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
        ScoringClips(options); // an unknown CLIP fails here, before any work
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
            scorer = options.Prompts is null && options.Clips is null
                ? AugClipScorer.ForPrompt(_clip, request.Prompt, _device)
                : AugClipScorer.ForPrompts(ScoringClips(options), request.ScoredPrompts, _device);
            scorer.FusedResize = _tuning.FusedResize;

            var search = new BasisSearchSettings(options.BasisIterations, options.SamplesPerIteration, options.TopK, _tuning.BasisBatchSize);
            basis = BasisSearch.Run(generator, scorer, search, random, _device,
                onProgress: (done, total) => reporter.Report(GenerationPhase.BasisSearch, (int)Math.Min(done, int.MaxValue), (int)Math.Min(total, int.MaxValue), null),
                cancellationToken: cancellationToken);
            double basisAugClip;
            using (NewDisposeScope())
                basisAugClip = MeasureLatents(generator, scorer, basis.Z.narrow(0, 0, 1), basis.Y.narrow(0, 0, 1), options.FinalAugmentations, measureRandom).Score;

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
            void Settle(double? measured, double[]? perPrompt, int total)
            {
                if (pending is not { } p) return;
                double loss;
                using (p.Loss) loss = LatentOptimizer.ReadLoss(p.Loss);
                pending = null;
                trace.Add(new TracePoint(p.Step, loss, measured) { PromptAugClip = perPrompt is null ? null : new ValueList<double>(perPrompt) });
                reporter.Report(GenerationPhase.Optimizing, p.Step, total, measured ?? -loss);
            }
            try
            {
                for (var step = 1; step <= options.Steps; step++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var loss = optimizer.StepWithoutReading();
                    Settle(null, null, options.Steps); // the previous step's, now that this one is queued
                    pending = (step, loss);
                    stepsRun = step;
                    var measuring = options.ScoreEvery > 0 && step % options.ScoreEvery == 0;
                    var previewing = onPreview is not null && PreviewSchedule.IsPreviewStep(options, step);
                    if (!measuring && !previewing) continue;
                    double? measured = null;
                    double[]? perPrompt = null;
                    if (measuring)
                    {
                        var (z, y) = optimizer.Combine();
                        using (z)
                        using (y)
                        using (var draws = MeasurementDraws(request.Seed, step))
                        {
                            (measured, perPrompt) = MeasureLatents(generator, scorer, z, y, options.Augmentations, draws);
                            if (options.KeepBest) best.Offer(step, measured.Value, z, y);
                        }
                    }
                    var stop = measured is { } score && flat.Add(score);
                    // Stopping early completes the phase at this step, so its progress and ETA stay true.
                    Settle(measured, perPrompt, stop ? step : options.Steps);
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
                Settle(null, null, options.Steps);
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
                var (score, promptScores) = scorer.PromptCount > 1
                    ? scorer.MeasurePrompts(image, options.FinalAugmentations, measureRandom, _tuning.MeasureBatchSize)
                    : (scorer.MeasureAugClip(image, options.FinalAugmentations, measureRandom, _tuning.MeasureBatchSize), null);
                var provenance = new ImageProvenance
                {
                    Prompt = request.Prompt,
                    Seed = request.Seed,
                    Options = options,
                    ModelSha256 = ModelHashes(options),
                    Device = _device.type.ToString().ToLowerInvariant(),
                    Precision = ModelPrecision.Name(Precision),
                    AugClipScore = score,
                    PromptScores = promptScores,
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
                    PromptScores = promptScores,
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

    /// <summary>SHA-256 of the model files behind <paramref name="options"/> (its generator and CLIPs), by role.</summary>
    internal IReadOnlyDictionary<string, string> ModelHashes(GenerationOptions options)
    {
        var hashes = new Dictionary<string, string>(_clipHash);
        if (_generatorHashes.TryGetValue(options.Model, out var hash)) hashes["biggan"] = hash;
        // An ensemble's other CLIPs by their ids; the default keeps its role name "clip".
        foreach (var clip in (IEnumerable<ClipWeight>?)options.Clips ?? [])
            if (_extraClipHashes.TryGetValue(clip.Model, out var clipHash)) hashes[clip.Model] = clipHash;
        return hashes;
    }

    /// <summary>The score of the latents' image and, with several prompts, each prompt's (null with one).</summary>
    private (double Score, double[]? PerPrompt) MeasureLatents(BigGanGenerator generator, AugClipScorer scorer, Tensor z, Tensor y, int count, IRandomSource random)
    {
        using var image = Render(generator, z, y);
        if (scorer.PromptCount == 1) return (scorer.MeasureAugClip(image, count, random, _tuning.MeasureBatchSize), null);
        var (score, perPrompt) = scorer.MeasurePrompts(image, count, random, _tuning.MeasureBatchSize);
        return (score, perPrompt);
    }

    internal static Tensor Render(BigGanGenerator generator, Tensor z, Tensor y)
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

    internal static float[] ToArray(Tensor t)
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
        foreach (var clip in _clips.Values) clip.Dispose();
        foreach (var generator in _generators.Values) generator.Dispose();
    }
}
