using System.Diagnostics;
using FuseDream.Models;
using FuseDream.BigGan;
using FuseDream.Generation;
using FuseDream.Imaging;
using static TorchSharp.torch;

namespace FuseDream.Composition;

/// <summary>
/// Composed generation end to end on a loaded <see cref="FuseDreamPipeline"/>'s models
/// (docs/composition.md): stage 1 runs FuseDream (basis search, over-parameterised optimisation)
/// for each component's prompt with a seed of its own derived from the request's; stage 2 fuses
/// the components' latents by the bi-level optimisation of <see cref="SceneFusion"/>; the result
/// is G(ξ*), with the naive composite and the components' images beside it.
/// Randomness: component i draws from seed D(s, 1000 + i), the fusion's augmentations from
/// D(s, 2000), and every scene measurement uses the same draws of D(s, 3000) (paired), where D is
/// <see cref="TorchRandomSource.DeriveSeed"/>. Same seed, options, tuning and device → the same PNG on CPU.
/// One run at a time per pipeline, as the pipeline it wraps.
/// </summary>
public sealed class CompositionPipeline(FuseDreamPipeline pipeline)
{
    private readonly FuseDreamPipeline _pipeline = pipeline ?? throw new ArgumentNullException(nameof(pipeline));

    public async Task<CompositionResult> RunAsync(
        CompositionRequest request,
        IProgress<GenerationProgress>? progress,
        Func<GenerationPreview, CancellationToken, Task>? onPreview,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var options = (request.Options ?? throw new ArgumentException("Options: missing", nameof(request))).EnsureValid();
        var composition = (request.Composition ?? throw new ArgumentException("Composition: missing", nameof(request))).EnsureValid();
        if (string.IsNullOrWhiteSpace(request.Prompt))
            throw new ArgumentException("Prompt: empty; give a text describing the whole scene", nameof(request));
        var problems = SceneValidation.Validate(request.Components);
        if (problems.Count > 0)
            throw new ArgumentException("Invalid scene: " + string.Join("; ", problems.Select(e => $"{e.Field}: {e.Reason}")), nameof(request));
        var generator = _pipeline.Generator(options.Model);
        var device = _pipeline.Device;
        var clip = _pipeline.Clip;
        var tuning = _pipeline.Tuning;
        var n = request.Components.Count;
        cancellationToken.ThrowIfCancellationRequested();

        var clock = Stopwatch.StartNew();
        var reporter = new ProgressReporter(progress);
        reporter.Report(GenerationPhase.Loading, 0, 1, null);
        var scorers = new List<AugClipScorer>();
        var latents = new List<Tensor[]>();
        SceneFusion? fusion = null;
        try
        {
            var sceneScorer = AugClipScorer.ForPrompt(clip, request.Prompt, device);
            scorers.Add(sceneScorer);
            foreach (var component in request.Components) scorers.Add(AugClipScorer.ForPrompt(clip, component.Prompt, device));
            foreach (var scorer in scorers) scorer.FusedResize = tuning.FusedResize; // as the single-prompt run's scorer

            // Stage 1: FuseDream for each component.
            var componentTraces = new List<ComponentTrace>();
            var componentTimings = new List<ComponentTimings>(n);
            for (var i = 0; i < n; i++)
            {
                var (parts, componentTrace, componentTime) = RunComponent(generator, scorers[i + 1], request, i, options, tuning, device, reporter, cancellationToken);
                latents.Add(parts);
                componentTraces.Add(componentTrace);
                componentTimings.Add(componentTime);
            }

            // Stage 2: the bi-level fusion.
            cancellationToken.ThrowIfCancellationRequested();
            fusion = new SceneFusion(generator, clip, sceneScorer, scorers.Skip(1).ToList(), request.Components, latents, composition, options.OptimizeY);
            var total = composition.FusionSteps;
            reporter.Report(GenerationPhase.Fusion, 0, total, null);
            var warmup = fusion.Warmup(composition.WarmupSteps, cancellationToken);
            var measureSeed = TorchRandomSource.DeriveSeed(request.Seed, 3000);
            double MeasureScene(Tensor image, int count)
            {
                using var draws = new TorchRandomSource(measureSeed);
                return sceneScorer.MeasureAugClip(image, count, draws, tuning.MeasureBatchSize);
            }
            var measuring = Stopwatch.StartNew();
            double startScene;
            using (var start = fusion.RenderFused())
                startScene = MeasureScene(start, composition.FusionAugmentations);
            measuring.Stop();

            using var fusionDraws = new TorchRandomSource(TorchRandomSource.DeriveSeed(request.Seed, 2000));
            var points = new List<FusionTracePoint>(total);
            for (var step = 1; step <= total; step++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var outcome = fusion.Step(fusionDraws);
                double? measured = null;
                if (composition.FusionScoreEvery > 0 && step % composition.FusionScoreEvery == 0)
                {
                    measuring.Start();
                    using (var image = fusion.RenderFused())
                        measured = MeasureScene(image, composition.FusionAugmentations);
                    measuring.Stop();
                }
                points.Add(new FusionTracePoint(step, outcome.LowerStart, outcome.LowerEnd, outcome.Upper, measured));
                reporter.Report(GenerationPhase.Fusion, step, total, measured ?? outcome.Upper);
                if (onPreview is not null && options.PreviewEvery > 0 && step % options.PreviewEvery == 0)
                {
                    byte[] preview;
                    using (var image = fusion.RenderFused()) preview = PngImage.Encode(image);
                    await onPreview(new GenerationPreview(step, preview), cancellationToken).ConfigureAwait(false);
                }
            }

            cancellationToken.ThrowIfCancellationRequested();
            var final = Stopwatch.StartNew();
            using var scoringScope = NewDisposeScope(); // the crops' and slices' views
            reporter.Report(GenerationPhase.Scoring, 0, 1, points.LastOrDefault()?.SceneAugClip);
            using var fused = fusion.RenderFused();                  // [1, 3, R, R]
            using var components = fusion.RenderComponents();        // [n, 3, R, R]
            using var composite = fusion.Composite(components);      // [1, 3, R, R]
            var score = MeasureScene(fused, options.FinalAugmentations);
            var compositeScore = MeasureScene(composite, options.FinalAugmentations);
            var regions = request.Components.Select(c => c.Region.Pixels(generator.Resolution, generator.Resolution)).ToList();
            for (var i = 0; i < n; i++)
            {
                using var draws = new TorchRandomSource(TorchRandomSource.DeriveSeed(request.Seed, 3001 + (ulong)i));
                using var own = components.narrow(0, i, 1);
                using var crop = regions[i].Crop(fused).contiguous();
                using var ownDraws = new TorchRandomSource(TorchRandomSource.DeriveSeed(request.Seed, 3101 + (ulong)i));
                componentTraces[i] = componentTraces[i] with
                {
                    AugClip = scorers[i + 1].MeasureAugClip(own, options.FinalAugmentations, ownDraws, tuning.MeasureBatchSize),
                    FusedCropAugClip = scorers[i + 1].MeasureAugClip(crop, options.FinalAugmentations, draws, tuning.MeasureBatchSize),
                };
            }

            var provenance = new ImageProvenance
            {
                Prompt = request.Prompt,
                Seed = request.Seed,
                Options = options,
                Components = request.Components,
                Composition = composition,
                ModelSha256 = _pipeline.ModelHashes(options),
                Device = device.type.ToString().ToLowerInvariant(),
                Precision = ModelPrecision.Name(_pipeline.Precision),
                AugClipScore = score,
            };
            var png = ProvenancePng.Encode(fused, provenance);
            var componentPngs = new List<byte[]>(n);
            for (var i = 0; i < n; i++)
                using (var image = components.narrow(0, i, 1)) componentPngs.Add(PngImage.Encode(image));
            var trace = new CompositionTrace
            {
                Prompt = request.Prompt,
                Seed = request.Seed,
                Options = options,
                Composition = composition,
                Components = componentTraces,
                Warmup = warmup,
                Fusion = points,
                StartSceneAugClip = startScene,
                CompositeSceneAugClip = compositeScore,
                FinalAugClip = score,
            };
            var compositePng = PngImage.Encode(composite);
            var timings = new CompositionTimings
            {
                Components = componentTimings,
                Fusion = fusion.Timings,
                SceneMeasurements = measuring.Elapsed,
                Final = final.Elapsed,
                Total = clock.Elapsed,
            };
            reporter.Report(GenerationPhase.Finished, total, total, score);
            return new CompositionResult(png, score, compositePng, componentPngs, trace, provenance) { Timings = timings };
        }
        finally
        {
            // Cancelled or not: latents, optimiser state and text features go now.
            fusion?.Dispose();
            foreach (var t in latents.SelectMany(l => l)) t.Dispose();
            foreach (var s in scorers) s.Dispose();
        }
    }

    /// <summary>Stage 1 for component <paramref name="index"/>: basis search and the over-parameterised optimisation, as a single-prompt run.</summary>
    private static (Tensor[] Latent, ComponentTrace Trace, ComponentTimings Timings) RunComponent(BigGanGenerator generator, AugClipScorer scorer, CompositionRequest request,
        int index, GenerationOptions options, PipelineTuning tuning, Device device, ProgressReporter reporter, CancellationToken cancellationToken)
    {
        var count = request.Components.Count;
        var component = (index + 1, count);
        var seed = TorchRandomSource.DeriveSeed(request.Seed, 1000 + (ulong)index);
        using var random = new TorchRandomSource(seed);
        var clock = Stopwatch.StartNew();
        var search = new BasisSearchSettings(options.BasisIterations, options.SamplesPerIteration, options.TopK, tuning.BasisBatchSize);
        using var basis = BasisSearch.Run(generator, scorer, search, random, device,
            onProgress: (done, total) => reporter.Report(GenerationPhase.BasisSearch, (int)Math.Min(done, int.MaxValue), (int)Math.Min(total, int.MaxValue), null, component),
            cancellationToken: cancellationToken);
        var basisTime = clock.Elapsed;
        clock.Restart();
        using var optimizer = new LatentOptimizer(generator, scorer, basis.Z, basis.Y, LatentOptimizerSettings.From(options), random, device);
        var points = new List<TracePoint>(options.Steps);
        for (var step = 1; step <= options.Steps; step++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var loss = optimizer.Step();
            double? measured = null;
            if (options.ScoreEvery > 0 && step % options.ScoreEvery == 0)
            {
                var (z, y) = optimizer.Combine();
                using (z)
                using (y)
                using (var image = FuseDreamPipeline.Render(generator, z, y))
                using (var draws = FuseDreamPipeline.MeasurementDraws(seed, step))
                    measured = scorer.MeasureAugClip(image, options.Augmentations, draws, tuning.MeasureBatchSize);
            }
            points.Add(new TracePoint(step, loss, measured));
            reporter.Report(GenerationPhase.Optimizing, step, options.Steps, measured ?? -loss, component);
        }
        var latent = LatentSet.DetachedCopy([optimizer.WeightsZ, optimizer.WeightsY, optimizer.BasisZ, optimizer.BasisY]);
        var trace = new ComponentTrace
        {
            Component = request.Components[index],
            Seed = seed,
            BasisScores = [.. basis.Scores.Select(s => (double)s)],
            Points = points,
        };
        return (latent, trace, new ComponentTimings(basisTime, clock.Elapsed));
    }
}
