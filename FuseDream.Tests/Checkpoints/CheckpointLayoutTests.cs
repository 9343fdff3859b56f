using FuseDream.BigGan;
using FuseDream.Checkpoints;
using FuseDream.Clip;
using FuseDream.Tests.Models;
using static TorchSharp.torch;

namespace FuseDream.Tests.Checkpoints;

/// <summary>
/// Layout detection and the refusals around it: a file is loaded only as what its tensor names
/// say it is; a generator is never opened as TorchScript; metadata checks bound the tensor bytes
/// before anything is read.
/// </summary>
public sealed class CheckpointLayoutTests
{
    [Theory]
    [InlineData("clip/clip_tiny_state_dict.pt", CheckpointLayout.ClipOpenAi)]
    [InlineData("clip/layouts/open_clip_model.safetensors", CheckpointLayout.ClipOpenAi)]
    [InlineData("clip/layouts/hf_model.safetensors", CheckpointLayout.ClipTransformers)]
    [InlineData("biggan/G256_tiny.pth", CheckpointLayout.BigGanAjbrock)]
    [InlineData("biggan/layouts/G512_tiny_v1.pth", CheckpointLayout.BigGanV1)]
    public void Detect_NamesTheLayoutFromTheKeys(string file, CheckpointLayout expected)
    {
        var infos = CheckpointReader.ReadInfos(Path.Combine(Support.FixtureSets.Root, file), long.MaxValue);
        Assert.Equal(expected, CheckpointLayouts.Detect(infos.Keys));
    }

    [Fact]
    public void ClipLoader_RefusesAGenerator_NamingWhatItIs()
    {
        var ex = Assert.Throws<ClipStateDictException>(() => ClipCheckpoint.Load(TinyCheckpoints.G256V1Path));
        Assert.Contains("BigGAN generator in the older TF-Hub port (v1) layout, not a CLIP ViT checkpoint", ex.Message);
    }

    [Fact]
    public void ClipLoader_RefusesUnknownTensors_SayingWhatTheyLookLike()
    {
        using var weight = zeros(2, 2);
        var ex = Assert.Throws<ClipStateDictException>(() => ClipCheckpoint.FromStateDict(new Dictionary<string, Tensor> { ["encoder.weight"] = weight }));
        Assert.Contains("none of the supported layouts (1 tensors, e.g. encoder.weight)", ex.Message);
    }

    [Fact]
    public void BigGanLoader_RefusesATorchScriptArchive_WithoutOpeningIt()
    {
        var ex = Assert.Throws<InvalidDataException>(() => BigGanCheckpoint.Load(TinyCheckpoints.ClipJitPath));
        Assert.Contains("is a TorchScript archive", ex.Message);
    }

    [Fact]
    public void BigGanLoader_RefusesClipWeights_NamingThem()
    {
        var ex = Assert.Throws<InvalidDataException>(() => BigGanCheckpoint.Load(TinyCheckpoints.ClipTransformersPath));
        Assert.Contains("CLIP ViT in the Hugging Face transformers layout, not a BigGAN generator", ex.Message);
    }

    [Fact]
    public void ReadInfos_BoundsTheTensorBytes_FromTheHeaderAlone()
    {
        var bytes = new FileInfo(TinyCheckpoints.ClipOpenClipPath).Length;
        var infos = CheckpointReader.ReadInfos(TinyCheckpoints.ClipOpenClipPath, bytes);
        Assert.Equal(["F32"], infos.Values.Select(i => i.DType).Distinct());
        Assert.Equal(new long[] { 128, 32 }, infos["visual.proj"].Shape);

        var ex = Assert.Throws<InvalidDataException>(() => CheckpointReader.ReadInfos(TinyCheckpoints.ClipOpenClipPath, 1_000_000));
        Assert.Contains("more than the 1000000 this model can have", ex.Message);
        var zip = Assert.Throws<InvalidDataException>(() => CheckpointReader.ReadInfos(TinyCheckpoints.G256V1Path, 1_000));
        Assert.Contains("bytes of tensor data, more than the 1000", zip.Message);
    }

    [Fact]
    public void ConvertedShapes_AreTheShapesOfTheConvertedTensors()
    {
        foreach (var file in new[] { TinyCheckpoints.ClipTransformersPath, TinyCheckpoints.G256V1Path })
        {
            var tensors = CheckpointReader.ReadTensors(file);
            var ours = LayoutConversion.ToOurs(tensors, out var layout);
            try
            {
                var infos = tensors.ToDictionary(kv => kv.Key, kv => new TensorInfo(TensorInfo.DTypeOf(kv.Value.dtype), kv.Value.shape));
                var shapes = LayoutConversion.For(layout, infos.ToDictionary(kv => kv.Key, kv => kv.Value.Shape)).ApplyShapes(infos);
                Assert.Equal(ours.Keys.Order(), shapes.Keys.Order());
                Assert.All(ours, kv => Assert.Equal(kv.Value.shape, shapes[kv.Key].Shape));
            }
            finally
            {
                foreach (var t in tensors.Values.Concat(ours.Values)) t.Dispose();
            }
        }
    }
}
