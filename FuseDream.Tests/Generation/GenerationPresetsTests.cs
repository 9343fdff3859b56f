using FuseDream.Generation;

namespace FuseDream.Tests.Generation;

public class GenerationPresetsTests
{
    [Fact]
    public void EveryPreset_IsValid_AndFoundByNameInAnyCase()
    {
        foreach (var (name, options) in GenerationPresets.All)
        {
            Assert.Empty(options.Validate());
            Assert.Same(options, GenerationPresets.Get(name.ToUpperInvariant()));
        }
    }

    [Fact]
    public void UnknownPreset_NamesItAndTheKnownOnes_InAPlainMessage()
    {
        var error = Assert.Throws<ArgumentException>(() => GenerationPresets.Get("quick"));
        Assert.Equal("Unknown preset 'quick'; known presets: paper, balanced, fast.", error.Message);
    }
}
