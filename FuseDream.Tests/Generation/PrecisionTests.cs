using FuseDream.BigGan;
using FuseDream.Checkpoints;
using FuseDream.Clip;
using FuseDream.Generation;
using FuseDream.Models;
using FuseDream.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace FuseDream.Tests.Generation;

/// <summary>bf16 models behind float32 interfaces, and the fp32 default on the CPU.</summary>
public class PrecisionTests(TinyPipeline tiny) : IClassFixture<TinyPipeline>
{
    [Fact]
    public void Resolve_AutoIsFp32OnTheCpu_NamesAreCaseInsensitive_BadNamesSayWhatIsAccepted()
    {
        Assert.Equal(Precision.Fp32, ModelPrecision.Resolve("auto", CPU));
        Assert.Equal(Precision.Fp32, ModelPrecision.Resolve(null, CPU));
        Assert.Equal(Precision.Bf16, ModelPrecision.Resolve("BF16", CPU));
        Assert.Equal(Precision.Fp32, ModelPrecision.Resolve("fp32", CPU));
        var ex = Assert.Throws<ArgumentException>(() => ModelPrecision.Resolve("fp16", CPU));
        Assert.Equal("Precision: 'fp16' is not a precision; use auto, fp32 or bf16", ex.Message);
        Assert.Equal("Models:Precision (env Models__Precision) must be auto, fp32 or bf16 (got 'half').",
            ModelPrecision.CheckSetting("half", "Models:Precision (env Models__Precision)"));
        Assert.Null(ModelPrecision.CheckSetting("bf16", "x"));
    }

    [Fact]
    public void Bf16Generator_TakesFloat32Latents_GivesAFloat32Image_AndGradientsReachTheLatents()
    {
        using var generator = BigGanCheckpoint.Load(tiny.GeneratorPath);
        using var fp32Image = Render(generator, out _);
        ModelPrecision.ApplyTo(generator, Precision.Bf16);
        Assert.Equal(ScalarType.BFloat16, generator.WeightType);

        using var bf16Image = Render(generator, out var gradient);
        using (gradient)
        {
            Assert.Equal(ScalarType.Float32, bf16Image.dtype);
            Assert.Equal(ScalarType.Float32, gradient.dtype);
            Assert.True(gradient.abs().sum().item<float>() > 0, "no gradient reached z through the bf16 generator");
            // bf16 keeps 8 bits of mantissa: the image moves, but by a few hundredths at most.
            TensorAssert.Close(fp32Image, bf16Image, atol: 0.1, rtol: 0, name: "bf16 image vs fp32");
            Assert.False(fp32Image.eq(bf16Image).all().item<bool>(), "the bf16 image is bit-identical to the fp32 one: the weights were not converted");
        }
        using var classes = tensor(new long[] { 3 });
        using var embedding = generator.ClassEmbedding(classes);
        Assert.Equal(ScalarType.Float32, embedding.dtype);
    }

    [Fact]
    public void Bf16Clip_EncodesFloat32ImagesAndText_AsFloat32Features_CloseToFp32()
    {
        using var clip = ClipCheckpoint.Load(tiny.ClipPath);
        var r = clip.InputResolution;
        using var image = rand([2, 3, r, r], generator: new Generator(5));
        using var tokens = tensor(FuseDream.Text.ClipTokenizer.Default.Tokenize("a red bus").Ids).view(1, -1);
        using var fp32Features = clip.EncodeImage(image);
        using var fp32Text = clip.EncodeText(tokens);
        ModelPrecision.ApplyTo(clip, Precision.Bf16);
        using var bf16Features = clip.EncodeImage(image);
        using var bf16Text = clip.EncodeText(tokens);
        Assert.Equal(ScalarType.Float32, bf16Features.dtype);
        Assert.Equal(ScalarType.Float32, bf16Text.dtype);
        using var cosine = ClipModel.CosineSimilarity(fp32Features, bf16Features).diag();
        Assert.True(cosine.min().item<float>() > 0.99f, $"bf16 image features point elsewhere: cosine {cosine.min().item<float>()} with fp32");
        Assert.False(fp32Features.eq(bf16Features).all().item<bool>(), "bf16 features are bit-identical to fp32: the weights were not converted");
    }

    [Fact]
    public async Task Bf16Pipeline_RunsEndToEnd_RecordsItsPrecision_AndScoresLikeFp32()
    {
        using var clip = ClipCheckpoint.Load(tiny.ClipPath);
        using var generator = BigGanCheckpoint.Load(tiny.GeneratorPath);
        using var bf16 = new FuseDreamPipeline(clip, [generator], CPU, tuning: new PipelineTuning { BasisBatchSize = 4, MeasureBatchSize = 8 }, precision: Precision.Bf16);
        Assert.Equal(Precision.Bf16, bf16.Precision);
        Assert.Equal(Precision.Fp32, tiny.Pipeline.Precision);
        var request = new GenerationRequest("a photo of a cute corgi", 77, TinyPipeline.Options());

        var reduced = await bf16.RunAsync(request, null, null, CancellationToken.None);
        var exact = await tiny.Pipeline.RunAsync(request, null, null, CancellationToken.None);

        Assert.Equal("bf16", ProvenancePng.Read(reduced.Png).Provenance!.Precision);
        Assert.Equal("fp32", ProvenancePng.Read(exact.Png).Provenance!.Precision);
        Assert.True(double.IsFinite(reduced.AugClipScore));
        Assert.NotEqual(exact.AugClipScore, reduced.AugClipScore);
        Assert.InRange(reduced.AugClipScore - exact.AugClipScore, -0.05, 0.05);
    }

    private static Tensor Render(BigGanGenerator generator, out Tensor zGradient)
    {
        using var scope = NewDisposeScope();
        var z = randn([1, generator.DimZ], generator: new Generator(11)).requires_grad_(true);
        using var classes = tensor(new long[] { 7 });
        var y = generator.ClassEmbedding(classes).detach();
        var image = generator.Generate(z, y);
        image.sum().backward();
        zGradient = z.grad!.clone().MoveToOuterDisposeScope();
        return image.detach().MoveToOuterDisposeScope();
    }
}
