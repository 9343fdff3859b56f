using FuseDream.Checkpoints;
using FuseDream.Tests.Support;
using static TorchSharp.torch;

namespace FuseDream.Tests.Checkpoints;

public class CheckpointReaderTests
{
    private static string Fixture(params string[] parts) => Path.Combine([FixtureSets.Root, .. parts]);

    [Fact]
    public void DetectFormat_TellsTheThreeFormatsApart()
    {
        Assert.Equal(CheckpointFormat.TorchScript, CheckpointReader.DetectFormat(Fixture("clip", "clip_tiny_jit.pt")));
        Assert.Equal(CheckpointFormat.TorchSaveZip, CheckpointReader.DetectFormat(Fixture("clip", "clip_tiny_state_dict.pt")));
        Assert.Equal(CheckpointFormat.Safetensors, CheckpointReader.DetectFormat(Fixture("clip", "clip_reference.safetensors")));
    }

    [Fact]
    public void TorchScriptArchive_AndStateDict_HoldTheSameTensors()
    {
        var script = CheckpointReader.ReadTensors(Fixture("clip", "clip_tiny_jit.pt"));
        var saved = CheckpointReader.ReadTensors(Fixture("clip", "clip_tiny_state_dict.pt"));
        try
        {
            Assert.Equal(saved.Keys.Order(), script.Keys.Order());
            foreach (var (name, tensor) in saved)
            {
                Assert.Equal(tensor.dtype, script[name].dtype);
                Assert.True(tensor.allclose(script[name], 0, 0), $"{name} differs between the two files");
            }
            Assert.Equal(ScalarType.Float16, saved["visual.conv1.weight"].dtype);
        }
        finally
        {
            foreach (var t in script.Values.Concat(saved.Values)) t.Dispose();
        }
    }

    [Fact]
    public void LegacyPickle_GivesAClearError()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(path, [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8]);
            var ex = Assert.Throws<NotSupportedException>(() => CheckpointReader.ReadTensors(path));
            Assert.Contains("before PyTorch 1.6", ex.Message);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void MissingFile_NamesThePath()
    {
        var ex = Assert.Throws<FileNotFoundException>(() => CheckpointReader.ReadTensors("/nonexistent/model.pt"));
        Assert.Contains("/nonexistent/model.pt", ex.Message);
    }

    [Fact]
    public void SafetensorsReference_MatchesTorchGeneratorStream()
    {
        // biggan.json: input.z = randn(3, dim_z) from torch.Generator(input_seed) then clamp(-2, 2)
        using var doc = FixtureSets.Load(Path.Combine("biggan", "biggan.json"));
        var model = doc.RootElement.GetProperty("models").GetProperty("256");
        var seed = model.GetProperty("inputs").GetProperty("input_seed").GetInt64();
        using var reference = new ReferenceTensors(Fixture("biggan", model.GetProperty("reference_file").GetString()!));
        var expected = reference["input.z"];
        using var z = randn(expected.shape, generator: new Generator((ulong)seed)).clamp(-2, 2);
        TensorAssert.Close(expected, z, 1e-6, 0, "input.z");
    }
}
