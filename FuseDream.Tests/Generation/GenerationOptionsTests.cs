using FuseDream.Generation;

namespace FuseDream.Tests.Generation;

/// <summary>The one overlay of a preset by overrides, and ranges declared once on the options.</summary>
public sealed class GenerationOptionsTests
{
    [Fact]
    public void With_ReplacesOnlyTheFieldsGiven()
    {
        var preset = GenerationPresets.Paper with { PreviewEvery = 7 };

        var options = preset.With(new GenerationOverrides { Steps = 12, LearningRate = 0.01, OptimizeY = false });

        Assert.Equal(preset with { Steps = 12, LearningRate = 0.01, OptimizeY = false }, options);
        Assert.Same(preset, preset.With(null));
        Assert.Equal(preset, preset.With(new GenerationOverrides()));
    }

    [Fact]
    public void With_CoversEveryOverride()
    {
        var overrides = new GenerationOverrides
        {
            BasisIterations = 2, SamplesPerIteration = 3, TopK = 4, Steps = 5, Augmentations = 6, LearningRate = 0.5,
            LatentNoise = false, OptimizeY = false, ScoreEvery = 8, FinalAugmentations = 9,
            Init = LatentInit.Paper, KeepBest = true, Patience = 7, MinImprovement = 0.25,
        };
        var options = new GenerationOptions().With(overrides);

        foreach (var property in typeof(GenerationOverrides).GetProperties())
            Assert.Equal(property.GetValue(overrides), typeof(GenerationOptions).GetProperty(property.Name)!.GetValue(options));
    }

    [Fact]
    public void Ranges_AreReadOffTheAttributes_ForLimitsAndValidation()
    {
        Assert.Equal((0.0, 10_000.0), GenerationOptions.RangeOf(nameof(GenerationOptions.Steps)));
        Assert.Equal((0, 10_000), GenerationOptions.Limits.Steps);
        Assert.Equal((1e-6, 1.0), GenerationOptions.Limits.LearningRate);
        Assert.Null(GenerationOptions.RangeOf(nameof(GenerationOptions.Model)));

        var errors = new GenerationOptions { Steps = -1, FinalAugmentations = 2000, LearningRate = double.NaN, PreviewEvery = 10_001 }.Validate();

        Assert.Equal(
            [
                new OptionError("Steps", "must be between 0 and 10000 (got -1)"),
                new OptionError("LearningRate", "must be between 1E-06 and 1 (got NaN)"),
                new OptionError("PreviewEvery", "must be between 0 and 10000 (got 10001)"),
                new OptionError("FinalAugmentations", "must be between 1 and 1024 (got 2000)"),
            ],
            errors);
    }

    [Fact]
    public void EveryOverride_HasARangeOrIsAFlagOrAChoice()
    {
        // The one choice among the overrides: the start strategy, checked against LatentInit.All.
        foreach (var property in typeof(GenerationOverrides).GetProperties().Where(p => p.Name != nameof(GenerationOverrides.Init)))
        {
            var type = Nullable.GetUnderlyingType(property.PropertyType);
            Assert.True(type == typeof(bool) || GenerationOptions.RangeOf(property.Name) is not null, $"{property.Name} has no range");
        }
        Assert.Equal(typeof(string), typeof(GenerationOverrides).GetProperty(nameof(GenerationOverrides.Init))!.PropertyType);
    }

    [Fact]
    public void QualityOptions_AreValidated_NamingTheField()
    {
        var errors = new GenerationOptions { Init = "blur", Patience = 1001, MinImprovement = -0.5 }.Validate();
        Assert.Equal(
            [
                new OptionError("Patience", "must be between 0 and 1000 (got 1001)"),
                new OptionError("MinImprovement", "must be between 0 and 1 (got -0.5)"),
                new OptionError("Init", "unknown start 'blur'; allowed: paper, best"),
            ],
            errors);

        var blind = new GenerationOptions { Patience = 3, ScoreEvery = 0 }.Validate();
        var error = Assert.Single(blind);
        Assert.Equal("Patience", error.Field);
        Assert.Contains("set ScoreEvery above 0", error.Reason);
        Assert.Empty(new GenerationOptions { Patience = 3, ScoreEvery = 5 }.Validate());
    }

    [Fact]
    public void PaperPreset_IsThePapersAlgorithm_AndTheDefaultsAreTheMeasuredOnes()
    {
        Assert.Equal(LatentInit.Paper, GenerationPresets.Paper.Init);
        Assert.False(GenerationPresets.Paper.KeepBest);
        Assert.Equal(0, GenerationPresets.Paper.Patience);
        // The paper preset differs from the defaults only in these choices.
        Assert.Equal(GenerationPresets.Paper, new GenerationOptions() with { Init = LatentInit.Paper, KeepBest = false });
        Assert.Equal(LatentInit.Best, new GenerationOptions().Init);
        Assert.Equal(LatentInit.Best, GenerationPresets.Balanced.Init);
        Assert.Equal(LatentInit.Best, GenerationPresets.Fast.Init);
    }
}
