using FuseDream.Generation;
using FuseDream.Imaging;
using FuseDream.Tests.Support;
using static TorchSharp.torch;

namespace FuseDream.Tests.Imaging;

public class PngImageTests
{
    private static ImageProvenance Sample(string prompt) => new()
    {
        Prompt = prompt,
        Seed = -1234567890123L,
        Options = GenerationPresets.Fast with { Steps = 37, LatentNoise = false, LearningRate = 0.0125 },
        ModelSha256 = new Dictionary<string, string> { ["clip"] = new string('a', 64), ["biggan"] = "0123456789abcdef" + new string('e', 48) },
        Device = "cpu",
        AugClipScore = 0.312345,
    };

    [Theory]
    [InlineData("a photo of a cute corgi")]
    [InlineData("一只可爱的柯基 ☃, with \"quotes\"")]
    [InlineData("two lines\nof prompt")]
    public void Provenance_RoundTrips(string prompt)
    {
        using var scope = NewDisposeScope();
        var image = rand([1, 3, 24, 40], generator: new Generator(4)) * 2 - 1;
        var provenance = Sample(prompt);
        var png = PngImage.Encode(image, provenance);

        var read = PngImage.ReadProvenance(png);
        Assert.Equal(40, read.Width);
        Assert.Equal(24, read.Height);
        var back = read.Provenance!;
        Assert.Equal(provenance.Prompt, back.Prompt);
        Assert.Equal(provenance.Seed, back.Seed);
        Assert.Equal(provenance.Options, back.Options);
        Assert.Equal(provenance.ModelSha256, back.ModelSha256);
        Assert.Equal(provenance.Device, back.Device);
        Assert.Equal(provenance.AugClipScore, back.AugClipScore);
        Assert.Equal(ImageProvenance.CurrentProgramVersion, back.ProgramVersion);

        var (parsedPrompt, values) = GenerationParameters.Parse(read.Parameters!);
        Assert.Equal(prompt, parsedPrompt);
        Assert.Equal("37", values["Steps"]);
        Assert.Equal("-1234567890123", values["Seed"]);
        Assert.Equal("biggan-256", values["Model"]);
        Assert.Equal("0123456789", values["Model hash"]);
        Assert.Equal("0.3123", values["AugCLIP"]);
        Assert.Equal("off", values["Latent noise"]);
    }

    [Fact]
    public void Parameters_StartWithThePrompt_ThenStepsSeedModel()
    {
        var text = GenerationParameters.Format(Sample("a red bus"));
        Assert.StartsWith("a red bus\nSteps: 37, Seed: -1234567890123, Model: biggan-256, ", text);
    }

    [Fact]
    public void Pixels_AreQuantisedFromMinusOneToOne()
    {
        using var scope = NewDisposeScope();
        var image = rand([3, 16, 16], generator: new Generator(5)) * 2.4 - 1.2; // some values outside [-1, 1]
        var decoded = PngImage.Decode(PngImage.Encode(image));
        var expected = ((image.clamp(-1, 1) + 1) / 2 * 255 + 0.5).floor().clamp(0, 255) / 255 * 2 - 1;
        TensorAssert.Close(expected.unsqueeze(0), decoded, 1e-6, 0, "pixels");
    }

    [Fact]
    public void ForeignPng_HasNoProvenance_AndGarbageIsRejected()
    {
        using var scope = NewDisposeScope();
        var read = PngImage.ReadProvenance(PngImage.Encode(zeros(1, 3, 4, 4)));
        Assert.Null(read.Provenance);
        Assert.Null(read.Parameters);
        Assert.Throws<InvalidDataException>(() => PngImage.ReadProvenance([1, 2, 3, 4]));
    }

    [Fact]
    public void WrongShape_IsRejected_WithTheShape()
    {
        using var scope = NewDisposeScope();
        var ex = Assert.Throws<ArgumentException>(() => PngImage.Encode(zeros(2, 3, 4, 4)));
        Assert.Contains("[2, 3, 4, 4]", ex.Message);
    }
}
