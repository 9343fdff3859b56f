using FuseDream.BigGan;
using FuseDream.Checkpoints;
using FuseDream.Clip;
using FuseDream.Generation;
using FuseDream.Models;
using FuseDream.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace FuseDream.Tests.Generation;

/// <summary>bf16 models behind float32 interfaces, and what <c>auto</c> resolves to on each device.</summary>
public class PrecisionTests(TinyPipeline tiny) : IClassFixture<TinyPipeline>
{
    [Fact]
    public void Resolve_NamesAreCaseInsensitive_AutoIsTheDevicesDefault_BadNamesSayWhatIsAccepted()
    {
        var cpuDefault = CpuBf16.Feature is null ? Precision.Fp32 : Precision.Bf16;
        Assert.Equal(cpuDefault, ModelPrecision.Resolve("auto", CPU));
        Assert.Equal(cpuDefault, ModelPrecision.Resolve(" AUTO ", CPU));
        Assert.Equal(cpuDefault, ModelPrecision.Resolve(null, CPU));
        Assert.Equal(Precision.Bf16, ModelPrecision.Resolve("BF16", CPU));
        Assert.Equal(Precision.Fp32, ModelPrecision.Resolve("fp32", CPU));
        Assert.Equal("fp32 (set explicitly)", ModelPrecision.Choose("fp32", CPU).ToString());
        var ex = Assert.Throws<ArgumentException>(() => ModelPrecision.Resolve("fp16", CPU));
        Assert.Equal("Precision: 'fp16' is not a precision; use auto, fp32 or bf16", ex.Message);
        Assert.Equal("Models:Precision (env Models__Precision) must be auto, fp32 or bf16 (got 'half').",
            ModelPrecision.CheckSetting("half", "Models:Precision (env Models__Precision)"));
        Assert.Null(ModelPrecision.CheckSetting("bf16", "x"));
    }

    [Fact]
    public void Auto_IsBf16OnCuda_AndOnACpuWithNativeBf16_Fp32OnOtherCpus_AndSaysWhy()
    {
        Assert.Equal("bf16 (auto: CPU has avx512_bf16)", ModelPrecision.ChooseDefault(CPU, "avx512_bf16").ToString());
        Assert.Equal("bf16 (auto: CPU has amx_bf16)", ModelPrecision.ChooseDefault(CPU, "amx_bf16").ToString());
        Assert.Equal("fp32 (auto on a CPU without native bf16 (no avx512_bf16 or amx_bf16))", ModelPrecision.ChooseDefault(CPU, null).ToString());
        var cuda = new Device(DeviceType.CUDA, 0);
        Assert.Equal("bf16 (auto on CUDA)", ModelPrecision.ChooseDefault(cuda, null).ToString());
        Assert.Equal(Precision.Bf16, ModelPrecision.ChooseDefault(cuda, "avx512_bf16").Precision);
        Assert.Equal(ModelPrecision.ChooseDefault(CPU, CpuBf16.Feature), ModelPrecision.ChooseDefault(CPU));
        Assert.Equal(ModelPrecision.ChooseDefault(CPU), ModelPrecision.Choose("auto", CPU));
    }

    [Theory]
    [InlineData("processor\t: 0\nflags\t\t: fpu sse2 avx512f avx512_bf16 avx512_vnni\n\nprocessor\t: 1\nflags\t\t: fpu sse2 avx512f avx512_bf16\n", "avx512_bf16")]
    [InlineData("flags\t: fpu amx_bf16 amx_tile avx512f\n", "amx_bf16")]
    [InlineData("flags\t: fpu amx_bf16 avx512_bf16\n", "avx512_bf16")]
    [InlineData("flags\t\t: fpu sse2 avx512f avx512bw avx512_vnni\n", null)]
    // A feature one core lacks (a hybrid or misreported CPU) is not used.
    [InlineData("flags\t: fpu avx512_bf16\nflags\t: fpu\n", null)]
    // avx512_bf16 as a substring of another word, or under another key, does not count.
    [InlineData("flags\t: fpu xavx512_bf16 avx512_bf16x\nbugs\t: avx512_bf16\n", null)]
    [InlineData("Processor\t: AArch64 Processor rev 1\nFeatures\t: fp asimd bf16\n", null)]
    [InlineData("", null)]
    public void CpuInfo_NamesTheNativeBf16Feature_EveryCoreHas(string cpuInfo, string? expected)
    {
        Assert.Equal(expected, CpuBf16.FromCpuInfo(cpuInfo));
    }

    [Fact]
    public void LibtorchsOwnQuery_IsFound_AndAgreesWithProcCpuInfo()
    {
        if (!OperatingSystem.IsLinux()) return;
        var libtorch = CpuBf16.QueryLibtorch();
        Assert.True(libtorch is not null, $"libtorch_cpu.so or {CpuBf16.Avx512Bf16Symbol} not found: auto would fall back to /proc/cpuinfo");
        var fromCpuInfo = CpuBf16.FromCpuInfo(File.ReadAllText("/proc/cpuinfo"));
        Assert.Equal(fromCpuInfo is null, libtorch.Value.Feature is null);
        if (fromCpuInfo == "avx512_bf16") Assert.Equal("avx512_bf16", libtorch.Value.Feature);
        Assert.Equal("libtorch", CpuBf16.Source);
        Assert.Equal(libtorch.Value.Feature, CpuBf16.Feature);
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

    [Theory]
    [InlineData(Precision.Fp32)]
    [InlineData(Precision.Bf16)]
    public async Task Determinism_SameSeed_GivesTheSamePng_InEachPrecision(Precision precision)
    {
        using var clip = ClipCheckpoint.Load(tiny.ClipPath);
        using var generator = BigGanCheckpoint.Load(tiny.GeneratorPath);
        using var pipeline = new FuseDreamPipeline(clip, [generator], CPU, tuning: new PipelineTuning { BasisBatchSize = 4, MeasureBatchSize = 8 }, precision: precision);
        var request = new GenerationRequest("a photo of a cute corgi", 1234, TinyPipeline.Options());
        var first = await pipeline.RunAsync(request, null, null, CancellationToken.None);
        var second = await pipeline.RunAsync(request, null, null, CancellationToken.None);
        Assert.Equal(ModelPrecision.Name(precision), ProvenancePng.Read(first.Png).Provenance!.Precision);
        Assert.Equal(first.Png, second.Png);
        Assert.Equal(first.FinalZ, second.FinalZ);
        Assert.Equal(first.Trace, second.Trace);
        var other = await pipeline.RunAsync(request with { Seed = 1235 }, null, null, CancellationToken.None);
        Assert.NotEqual(first.FinalZ, other.FinalZ);
    }

    [Fact]
    public async Task Determinism_SameSeed_GivesTheSameComposedPngs_UnderBf16()
    {
        using var clip = ClipCheckpoint.Load(tiny.ClipPath);
        using var generator = BigGanCheckpoint.Load(tiny.GeneratorPath);
        using var bf16 = new FuseDreamPipeline(clip, [generator], CPU, tuning: new PipelineTuning { BasisBatchSize = 4, MeasureBatchSize = 8 }, precision: Precision.Bf16);
        var composition = new FuseDream.Composition.CompositionPipeline(bf16);
        var request = new FuseDream.Composition.CompositionRequest("a dog on the moon", FuseDream.Tests.Composition.TinySceneModels.DogOnTheMoon, 5,
            TinyPipeline.Options(steps: 2), FuseDream.Tests.Composition.CompositionPipelineTests.TinyFusion);
        var first = await composition.RunAsync(request, null, null, CancellationToken.None);
        var second = await composition.RunAsync(request, null, null, CancellationToken.None);
        Assert.Equal("bf16", ProvenancePng.Read(first.Png).Provenance!.Precision);
        Assert.Equal(first.Png, second.Png);
        Assert.Equal(first.CompositePng, second.CompositePng);
        Assert.Equal(first.ComponentPngs, second.ComponentPngs);
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
