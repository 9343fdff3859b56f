using FuseDream.Tests.Support;
using FuseDream.BigGan;
using FuseDream.Composition;
using FuseDream.Generation;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace FuseDream.Tests.Composition;

public class SceneFusionTests(TinySceneModels models, ITestOutputHelper output) : IClassFixture<TinySceneModels>
{
    /// <summary>
    /// The hypergradient (autograd through K unrolled Adam steps, second order included) against
    /// a central finite difference of the upper objective along a random direction in all four
    /// of one component's latent tensors, in float64. Warm-up steps first, so the inner Adam
    /// has non-zero moments (its first step from zero moments is sign-like and nearly flat).
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void Hypergradient_MatchesCentralDifference(int innerSteps)
    {
        var options = new CompositionOptions
        {
            InnerSteps = innerSteps, WarmupSteps = 2, FusionAugmentations = 2, InnerLearningRate = 0.05, ComponentWeight = 0.5,
        };
        var (fusion, scorers) = TinySceneModels.Fusion(models.Clip64, models.Generator64, "a dog on the moon", TinySceneModels.DogOnTheMoon, options, seed: 3);
        using var _ = fusion;
        try
        {
            fusion.Warmup(options.WarmupSteps);
            const int component = 1;
            var parts = fusion.Components[component];
            using var generator = new Generator(17);
            var directions = parts.Select(p => randn(p.shape, float64, generator: generator).DetachFromDisposeScope()).ToList();
            // A unit direction: a step of eps moves the parameters by eps, too little to cross many of BigGAN's ReLU kinks.
            var norm = Math.Sqrt(directions.Sum(d => d.square().sum().item<double>()));
            foreach (var d in directions) d.div_(norm);

            fusion.Objective(new TorchRandomSource(11), withGradient: true);
            var analytic = 0.0;
            for (var i = 0; i < parts.Count; i++)
                if (parts[i].grad is { } grad) analytic += (grad * directions[i]).sum().item<double>();

            const double eps = 1e-6;
            double Shifted(double by)
            {
                using (no_grad())
                    for (var i = 0; i < parts.Count; i++) parts[i].add_(directions[i] * by);
                var value = fusion.Objective(new TorchRandomSource(11), withGradient: false);
                using (no_grad())
                    for (var i = 0; i < parts.Count; i++) parts[i].sub_(directions[i] * by);
                return value;
            }
            var numeric = (Shifted(eps) - Shifted(-eps)) / (2 * eps);
            output.WriteLine($"K={innerSteps}: analytic {analytic:G10}, numeric {numeric:G10}");
            Assert.True(double.IsFinite(analytic) && double.IsFinite(numeric));
            // Far above the float64 noise of the difference, so a zero gradient fails.
            Assert.True(Math.Abs(numeric) > 1e-4, $"the objective barely moves along the direction ({numeric:G4}): the check would prove nothing");
            Assert.True(Math.Abs(analytic - numeric) <= 1e-4 * Math.Abs(numeric),
                $"hypergradient {analytic:G10} vs central difference {numeric:G10} (K = {innerSteps})");
            foreach (var d in directions) d.Dispose();
        }
        finally
        {
            foreach (var s in scorers) s.Dispose();
        }
    }

    /// <summary>A narrow BigGAN-128 with random weights (the fixtures' blocks at a fraction of the cost), frozen.</summary>
    private static BigGanGenerator SmallGenerator()
    {
        var generator = BigGanRandomInit.Create(BigGanConfig.ForResolution(128, channels: 4), seed: 7);
        generator.eval();
        foreach (var p in generator.parameters()) p.requires_grad = false;
        return generator;
    }

    [Fact]
    public void LowerLevel_ReducesTheMaskedDistance_OnFixedTargets()
    {
        using var generator = SmallGenerator();
        var options = new CompositionOptions { InnerLearningRate = 0.02 };
        var (fusion, scorers) = TinySceneModels.Fusion(models.Tiny.Clip, generator, "a dog on the moon", TinySceneModels.ThreeParts, options, seed: 5);
        using var _ = fusion;
        try
        {
            var losses = fusion.Warmup(30); // θ untouched: the targets are fixed
            output.WriteLine(string.Join(", ", losses.Select(l => l.ToString("G5"))));
            Assert.All(losses, l => Assert.True(double.IsFinite(l)));
            var windows = Enumerable.Range(0, 3).Select(w => losses.Skip(10 * w).Take(10).Average()).ToList();
            Assert.True(windows[0] > windows[1] && windows[1] > windows[2], $"the distance's running means do not fall: {string.Join(", ", windows)}");
            Assert.True(fusion.LowerDistance() < losses[0]);
        }
        finally
        {
            foreach (var s in scorers) s.Dispose();
        }
    }

    /// <summary>
    /// Over several seeds, the scene's AugCLIP of G(ξ) after some outer steps against its value at
    /// the fusion's start, each pair measured with the same augmentations.
    /// </summary>
    [Fact]
    public void UpperLevel_ImprovesTheScenesAugClip_OverTheFusionsStart_OnAverageOverSeeds()
    {
        var options = new CompositionOptions
        {
            InnerSteps = 2, WarmupSteps = 10, FusionAugmentations = 4, OuterLearningRate = 0.05, InnerLearningRate = 0.05,
        };
        var gains = SceneGains(options, outerSteps: 8);
        Assert.True(gains.Average() > 0, $"the mean gain over seeds is {gains.Average():G4} ({string.Join(", ", gains.Select(g => g.ToString("G3")))})");
    }

    /// <summary>
    /// The <c>fast</c> preset's own fusion (its warm-up, outer steps, K, learning rates and
    /// augmentations, nothing overridden) still moves the scene's AugCLIP up on average over seeds,
    /// and by more than the same steps with θ held still (the smallest outer learning rate), so the
    /// gain is the upper level's and not only the lower level's steps: the preset is cheap, not inert.
    /// </summary>
    [Fact]
    public void FastPresetsFusion_ImprovesTheScenesAugClip_MoreThanTheLowerLevelAlone_OnAverageOverSeeds()
    {
        var options = CompositionPresets.Fast.Fusion;
        var gains = SceneGains(options, outerSteps: options.FusionSteps);
        var still = SceneGains(options with { OuterLearningRate = CompositionOptions.RangeOf(nameof(CompositionOptions.OuterLearningRate))!.Value.Min }, options.FusionSteps);
        string Show(List<double> g) => $"{g.Average():G4} ({string.Join(", ", g.Select(x => x.ToString("G3")))})";
        Assert.True(gains.Average() > 0, $"the mean gain over seeds is {Show(gains)}");
        Assert.True(gains.Average() > still.Average(), $"the mean gain {Show(gains)} is not above θ held still: {Show(still)}");
    }

    /// <summary>For each of four seeds: warm-up, then <paramref name="outerSteps"/> outer steps; the scene's AugCLIP gain over the start, paired.</summary>
    private List<double> SceneGains(CompositionOptions options, int outerSteps)
    {
        using var generator = SmallGenerator();
        var gains = new List<double>();
        foreach (var seed in new long[] { 1, 2, 3, 4 })
        {
            var (fusion, scorers) = TinySceneModels.Fusion(models.Tiny.Clip, generator, "a dog on the moon", TinySceneModels.DogOnTheMoon, options, seed);
            using var _ = fusion;
            try
            {
                fusion.Warmup(options.WarmupSteps);
                double Measure()
                {
                    using var image = fusion.RenderFused();
                    using var draws = new TorchRandomSource(1000 + seed);
                    return scorers[0].MeasureAugClip(image, 16, draws);
                }
                var start = Measure();
                using var fusionDraws = new TorchRandomSource(seed);
                for (var step = 0; step < outerSteps; step++) fusion.Step(fusionDraws);
                var end = Measure();
                output.WriteLine($"seed {seed}: {start:F5} → {end:F5}");
                gains.Add(end - start);
            }
            finally
            {
                foreach (var s in scorers) s.Dispose();
            }
        }
        return gains;
    }

    [Fact]
    public void LiveTensorCount_StaysFlat_OverManyOuterSteps()
    {
        using var generator = SmallGenerator();
        var options = new CompositionOptions { InnerSteps = 2, WarmupSteps = 2, FusionAugmentations = 2 };
        var (fusion, scorers) = TinySceneModels.Fusion(models.Tiny.Clip, generator, "a dog on the moon", TinySceneModels.DogOnTheMoon, options, seed: 9);
        using var _ = fusion;
        try
        {
            using var draws = new TorchRandomSource(3);
            fusion.Warmup(2);
            fusion.Step(draws);
            var baseline = LiveTensors.Uncached;
            var counts = new List<long>();
            for (var i = 0; i < 10; i++)
            {
                fusion.Step(draws);
                fusion.Warmup(1);
                counts.Add(LiveTensors.Uncached - baseline);
            }
            Assert.True(counts.All(c => c == 0), $"live tensors grew during the fusion: {string.Join(",", counts.Distinct())}");
            Assert.Equal(11, fusion.OuterStepsTaken);
            Assert.All(generator.parameters(), p => Assert.Null(p.grad));
            Assert.All(models.Tiny.Clip.parameters(), p => Assert.Null(p.grad));
        }
        finally
        {
            foreach (var s in scorers) s.Dispose();
        }
    }
}
