using System.ComponentModel.DataAnnotations;
using FuseDream.Generation;

namespace FuseDream.Tests.Generation;

public class GenerationCostTests
{
    [Fact]
    public void PaperCost_IsEachPhaseInClipImageEvaluations()
    {
        // 1000 × 10 basis samples + 1000 steps × 50 + (1000 ÷ 50) traces × 50 + 2 × 50 measurements.
        Assert.Equal(10_000 + 50_000 + 1_000 + 100, GenerationCost.Of(GenerationPresets.Paper));
        Assert.Equal(10_000 + 50_000 + 100, GenerationCost.Of(GenerationPresets.Paper with { ScoreEvery = 0 }));
        // The figures docs/service.md quotes.
        Assert.Equal(12_084, GenerationCost.Of(GenerationPresets.Balanced));
        Assert.Equal(2_212, GenerationCost.Of(GenerationPresets.Fast));
    }

    [Fact]
    public void AnEnsemble_CostsItsRunOncePerClip_AndPromptsCostNothing()
    {
        var fast = GenerationCost.Of(GenerationPresets.Fast);
        Assert.Equal(2 * fast, GenerationCost.Of(GenerationPresets.Fast with { Clips = new([new("clip-vit-b-32", 1), new("clip-vit-b-16", 3)]) }));
        Assert.Equal(fast, GenerationCost.Of(GenerationPresets.Fast with { Prompts = new([new("a", 1), new("b", -1)]) }));
        // The paper's settings on two CLIPs (122,200) are over the default limit.
        Assert.NotNull(GenerationCost.Problem(GenerationPresets.Paper with { Clips = new([new("clip-vit-b-32", 1), new("clip-vit-b-16", 1)]) }, new GenerationLimits()));
    }

    [Fact]
    public void EveryPreset_FitsTheDefaultLimit()
    {
        foreach (var (name, preset) in GenerationPresets.All)
            Assert.True(GenerationCost.Problem(preset, new GenerationLimits()) is null, $"{name} costs {GenerationCost.Of(preset)}");
    }

    [Fact]
    public void EveryOptionAtItsMaximum_IsRefused_NamingCostLimitSettingAndRemedy()
    {
        var options = new GenerationOptions
        {
            BasisIterations = GenerationOptions.Limits.BasisIterations.Max,
            SamplesPerIteration = GenerationOptions.Limits.SamplesPerIteration.Max,
            Steps = GenerationOptions.Limits.Steps.Max,
            Augmentations = GenerationOptions.Limits.Augmentations.Max,
            ScoreEvery = 1,
            FinalAugmentations = GenerationOptions.Limits.FinalAugmentations.Max,
        };
        Assert.Empty(options.Validate());
        Assert.Equal(7_682_048, GenerationCost.Of(options));
        var problem = GenerationCost.Problem(options, new GenerationLimits());
        Assert.NotNull(problem);
        Assert.StartsWith("costs 7,682,048 CLIP image evaluations, over this service's limit of 100,000 (Generation:MaxClipEvaluations).", problem);
        Assert.Contains("fast: ", problem);
    }

    [Fact]
    public void TheLimit_IsConfigurable_AndAtLeastOne()
    {
        Assert.NotNull(GenerationCost.Problem(GenerationPresets.Fast, new GenerationLimits { MaxClipEvaluations = 100 }));
        Assert.Null(GenerationCost.Problem(GenerationPresets.Paper, new GenerationLimits { MaxClipEvaluations = GenerationCost.Of(GenerationPresets.Paper) }));
        var invalid = new GenerationLimits { MaxClipEvaluations = 0 };
        Assert.False(Validator.TryValidateObject(invalid, new ValidationContext(invalid), null, validateAllProperties: true));
    }
}
