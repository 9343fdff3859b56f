using FuseDream.Tests.Support;
using FuseDream.Composition;
using FuseDream.Generation;
using FuseDream.Tests.Generation;
using TorchSharp;

namespace FuseDream.Tests.Composition;

/// <summary>A composed generation end to end on the fixtures' tiny CLIP and BigGAN-512.</summary>
public class CompositionPipelineTests(TinyPipeline tiny) : IClassFixture<TinyPipeline>
{
    internal static readonly CompositionOptions TinyFusion = new()
    {
        InnerSteps = 1, FusionSteps = 2, WarmupSteps = 1, FusionAugmentations = 2, FusionScoreEvery = 1,
    };

    private static CompositionRequest Request(long seed) =>
        new("a dog on the moon", TinySceneModels.DogOnTheMoon, seed, TinyPipeline.Options(steps: 2), TinyFusion);

    private sealed class Recorder(Func<GenerationProgress, bool>? cancelAt = null, CancellationTokenSource? cancel = null) : IProgress<GenerationProgress>
    {
        public List<GenerationProgress> Events { get; } = [];
        public int? CancelledAt { get; private set; }

        public void Report(GenerationProgress value)
        {
            Events.Add(value);
            if (CancelledAt is null && cancelAt is not null && cancelAt(value))
            {
                CancelledAt = Events.Count - 1;
                cancel!.Cancel();
            }
        }
    }

    [Fact]
    public async Task SameSeed_GivesTheSamePngs_OnCpu()
    {
        var pipeline = new CompositionPipeline(tiny.Pipeline);
        var baseline = LiveTensors.Uncached;
        var first = await pipeline.RunAsync(Request(5), null, null, CancellationToken.None);
        Assert.Equal(baseline, LiveTensors.Uncached); // a run leaves no tensor behind
        var second = await pipeline.RunAsync(Request(5), null, null, CancellationToken.None);
        Assert.Equal(first.Png, second.Png);
        Assert.Equal(first.CompositePng, second.CompositePng);
        Assert.Equal(first.ComponentPngs, second.ComponentPngs);
        Assert.Equal(first.Trace.ToJson(), second.Trace.ToJson());

        var other = await pipeline.RunAsync(Request(6), null, null, CancellationToken.None);
        Assert.NotEqual(first.Png, other.Png);
    }

    [Fact]
    public async Task FusedResize_IsUsedThroughTheFusion_AndStaysCloseToTheExactPath()
    {
        using var fusedPipeline = new FuseDreamPipeline(tiny.Clip, [tiny.Generator], TorchSharp.torch.CPU,
            tuning: new PipelineTuning { BasisBatchSize = 4, MeasureBatchSize = 8, FusedResize = true }, precision: FuseDream.Models.Precision.Fp32);
        var exact = await new CompositionPipeline(tiny.Pipeline).RunAsync(Request(5), null, null, CancellationToken.None);
        var fused = await new CompositionPipeline(fusedPipeline).RunAsync(Request(5), null, null, CancellationToken.None);
        // The fused kernel rounds differently, so the measured scores move (the setting reached the
        // scorers), but only in the last digits: the second-order path through it is sound.
        Assert.NotEqual(exact.Trace.ToJson(), fused.Trace.ToJson());
        Assert.True(double.IsFinite(fused.AugClipScore));
        Assert.InRange(fused.AugClipScore - exact.AugClipScore, -0.01, 0.01);
    }

    [Fact]
    public async Task Run_ReportsEachComponentAndTheFusion_AndEmbedsTheSceneInThePng()
    {
        var recorder = new Recorder();
        var previews = new List<GenerationPreview>();
        var request = Request(7) with { Options = TinyPipeline.Options(steps: 2) with { PreviewEvery = 1 } };
        var result = await new CompositionPipeline(tiny.Pipeline).RunAsync(request, recorder,
            (p, _) => { previews.Add(p); return Task.CompletedTask; }, CancellationToken.None);

        var phases = recorder.Events.Select(e => (e.Phase, e.Component)).Distinct().ToList();
        Assert.Equal(
        [
            (GenerationPhase.Loading, null), (GenerationPhase.BasisSearch, 1), (GenerationPhase.Optimizing, 1),
            (GenerationPhase.BasisSearch, 2), (GenerationPhase.Optimizing, 2), (GenerationPhase.Fusion, null),
            (GenerationPhase.Scoring, null), (GenerationPhase.Finished, null),
        ], phases);
        Assert.All(recorder.Events.Where(e => e.Component is not null), e => Assert.Equal(2, e.Components));
        Assert.Equal([0, 1, 2], recorder.Events.Where(e => e.Phase == GenerationPhase.Fusion).Select(e => e.Step));
        Assert.Equal([1, 2], previews.Select(p => p.Step));

        var trace = CompositionTrace.FromJson(result.Trace.ToJson());
        Assert.Equal([1, 2], trace.Fusion.Select(p => p.Step));
        Assert.All(trace.Fusion, p => Assert.NotNull(p.SceneAugClip));
        Assert.Single(trace.Warmup);
        Assert.Equal(2, trace.Components.Count);
        Assert.All(trace.Components, c => { Assert.NotNull(c.AugClip); Assert.NotNull(c.FusedCropAugClip); Assert.Equal(2, c.Points.Count); });
        Assert.NotEqual(trace.Components[0].Seed, trace.Components[1].Seed);
        Assert.NotNull(trace.StartSceneAugClip);
        Assert.NotNull(trace.CompositeSceneAugClip);
        Assert.Equal(result.AugClipScore, trace.FinalAugClip);
        Assert.Equal(2, result.ComponentPngs.Count);

        var read = ProvenancePng.Read(result.Png);
        Assert.Equal(512, read.Width);
        Assert.Equal("a dog on the moon", read.Provenance!.Prompt);
        Assert.Equal(TinySceneModels.DogOnTheMoon, read.Provenance.Components);
        Assert.Equal(TinyFusion, read.Provenance.Composition);
        Assert.Equal(request.Options, read.Provenance.Options);
        Assert.Equal(result.AugClipScore, read.Provenance.AugClipScore);
        Assert.Contains("Component 1: the surface of the moon\nComponent 2: a dog @ 0.3,0.35,0.75,0.95\n", read.Parameters);
        Assert.Contains("Fusion steps: 2, Inner steps: 1", read.Parameters);
        Assert.Equal(512, ProvenancePng.Read(result.CompositePng).Width);

        // Where the time went: every phase that ran took some, and the parts fit in the whole.
        var timings = Assert.IsType<CompositionTimings>(result.Timings);
        Assert.Equal(2, timings.Components.Count);
        Assert.All(timings.Components, c => { Assert.True(c.BasisSearch > TimeSpan.Zero); Assert.True(c.Optimizing > TimeSpan.Zero); });
        var fusion = timings.Fusion;
        TimeSpan[] parts = [fusion.Warmup, fusion.Targets, fusion.InnerSteps, fusion.UpperObjective, fusion.Hypergradient, timings.SceneMeasurements, timings.Final];
        Assert.All(parts, p => Assert.True(p > TimeSpan.Zero, string.Join(", ", parts)));
        var sum = parts.Aggregate(timings.Components.Aggregate(TimeSpan.Zero, (t, c) => t + c.BasisSearch + c.Optimizing), (t, p) => t + p);
        Assert.True(sum <= timings.Total, $"the parts ({sum}) exceed the whole ({timings.Total})");
    }

    public static TheoryData<string> Stages => new() { "basis search 2", "optimizing 1", "fusion" };

    [Theory]
    [MemberData(nameof(Stages))]
    public async Task Cancellation_StopsWithinOneStep_InEachStage_AndFreesItsTensors(string stage)
    {
        using var cancel = new CancellationTokenSource();
        Func<GenerationProgress, bool> at = stage switch
        {
            "basis search 2" => e => e.Phase == GenerationPhase.BasisSearch && e.Component == 2 && e.Step > 0,
            "optimizing 1" => e => e.Phase == GenerationPhase.Optimizing && e.Component == 1 && e.Step == 1,
            _ => e => e.Phase == GenerationPhase.Fusion && e.Step == 1,
        };
        var recorder = new Recorder(at, cancel);
        var options = TinyPipeline.Options(steps: 3) with { BasisIterations = 3 };
        var request = Request(9) with { Options = options, Composition = TinyFusion with { FusionSteps = 3 } };
        var baseline = LiveTensors.Uncached;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            new CompositionPipeline(tiny.Pipeline).RunAsync(request, recorder, null, cancel.Token));
        Assert.NotNull(recorder.CancelledAt);
        // Nothing ran after the step that saw the cancellation.
        Assert.Equal(recorder.Events.Count - 1, recorder.CancelledAt);
        Assert.Equal(baseline, LiveTensors.Uncached);
    }
}
