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
}
