using FuseDream.Composition;
using FuseDream.Generation;

namespace FuseDream.Tests.Composition;

public class CompositionOptionsTests
{
    [Fact]
    public void Presets_AreValid_AndCostInOrder()
    {
        foreach (var (name, preset) in CompositionPresets.All)
        {
            Assert.True(preset.Components.Validate().Count == 0, $"{name}: {string.Join("; ", preset.Components.Validate())}");
            Assert.True(preset.Fusion.Validate().Count == 0, $"{name}: {string.Join("; ", preset.Fusion.Validate())}");
        }
        long Cost(CompositionPreset p) => CompositionCost.Of(p.Components, p.Fusion, 2);
        Assert.True(Cost(CompositionPresets.Fast) < Cost(CompositionPresets.Balanced));
        Assert.True(Cost(CompositionPresets.Balanced) < Cost(CompositionPresets.Paper));
        Assert.Same(CompositionPresets.Fast, CompositionPresets.Get("FAST"));
        Assert.Contains("known presets: paper, balanced, fast", Assert.Throws<ArgumentException>(() => CompositionPresets.Get("slow")).Message);
    }

    /// <summary>
    /// The fast preset is a draft meant to finish well under a minute on the test models: it costs
    /// at most a quarter of its earlier values (50 basis samples, 15 steps × 8 augmentations per
    /// component; 8 fusion steps after 5 warm-up steps, 4 augmentations), which took about two minutes.
    /// </summary>
    [Fact]
    public void FastPreset_CostsAtMostAQuarterOfItsEarlierValues()
    {
        var earlier = new CompositionPreset(
            GenerationPresets.Fast with { BasisIterations = 5, Steps = 15, Augmentations = 8, ScoreEvery = 5, FinalAugmentations = 8 },
            new CompositionOptions { InnerSteps = 1, FusionSteps = 8, WarmupSteps = 5, FusionAugmentations = 4, FusionScoreEvery = 4 });
        foreach (var components in new[] { 2, 3, 4 })
        {
            var now = CompositionCost.Of(CompositionPresets.Fast.Components, CompositionPresets.Fast.Fusion, components);
            var before = CompositionCost.Of(earlier.Components, earlier.Fusion, components);
            Assert.True(4 * now <= before, $"{components} components: fast costs {now} CLIP evaluations, more than a quarter of {before}");
        }
    }

    [Fact]
    public void Cost_CountsBothStages()
    {
        var options = new GenerationOptions { BasisIterations = 10, SamplesPerIteration = 10, Steps = 10, Augmentations = 4, ScoreEvery = 0, FinalAugmentations = 8 };
        var fusion = new CompositionOptions { InnerSteps = 2, FusionSteps = 5, WarmupSteps = 3, FusionAugmentations = 4, FusionScoreEvery = 5 };
        // Stage 1: 2 × (100 + 40 + 16); warm-up 2 × 4; outer 5 × (2 + 4 + 3 × 4); trace 1 × 4; final 4 × 8 + 4.
        Assert.Equal(2 * 156 + 8 + 5 * 18 + 4 + 36, CompositionCost.Of(options, fusion, 2));
    }

    [Fact]
    public void Validate_NamesEachFieldOutOfRange_AndOverridesReplaceOnlyWhatTheySet()
    {
        var bad = new CompositionOptions { InnerSteps = 0, ComponentWeight = -1, PixelWeight = 0, FeatureWeight = 0 };
        Assert.Equal([nameof(CompositionOptions.InnerSteps), nameof(CompositionOptions.ComponentWeight), nameof(CompositionOptions.FeatureWeight)],
            bad.Validate().Select(e => e.Field));
        Assert.Contains("InnerSteps: must be between 1 and 10 (got 0)", Assert.Throws<ArgumentException>(() => bad.EnsureValid()).Message);
        var changed = new CompositionOptions().With(new CompositionOverrides { InnerSteps = 5, Feather = 0 });
        Assert.Equal(new CompositionOptions() with { InnerSteps = 5, Feather = 0 }, changed);
    }
}
