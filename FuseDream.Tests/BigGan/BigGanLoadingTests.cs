using FuseDream.BigGan;
using static TorchSharp.torch;
using FuseDream.Checkpoints;

namespace FuseDream.Tests.BigGan;

/// <summary>
/// Loading is strict where the original (load_state_dict(strict=False)) is silent: each wrong
/// checkpoint gives an error that names what is wrong.
/// </summary>
public class BigGanLoadingTests
{
    // A narrow 256 generator: the same keys as the real one, small enough to build in milliseconds.
    private static readonly BigGanConfig Tiny = BigGanConfig.ForResolution(256, channels: 4);

    private static Dictionary<string, Tensor> TinyStateDict()
    {
        using var generator = BigGanRandomInit.Create(Tiny, seed: 7);
        return generator.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone());
    }

    private static void DisposeAll(Dictionary<string, Tensor> tensors)
    {
        foreach (var t in tensors.Values) t.Dispose();
    }

    private static InvalidDataException LoadFails(Dictionary<string, Tensor> stateDict, BigGanConfig? config = null) =>
        Assert.Throws<InvalidDataException>(() => BigGanCheckpoint.FromStateDict(stateDict, config).Dispose());

    [Fact]
    public void MissingKey_IsAnErrorThatNamesIt()
    {
        var stateDict = TinyStateDict();
        try
        {
            stateDict.Remove("blocks.2.0.conv1.weight", out var removed);
            removed!.Dispose();
            var ex = LoadFails(stateDict);
            Assert.Contains("missing keys (1): blocks.2.0.conv1.weight", ex.Message);
        }
        finally { DisposeAll(stateDict); }
    }

    [Fact]
    public void UnexpectedKey_IsAnErrorThatNamesIt()
    {
        var stateDict = TinyStateDict();
        try
        {
            stateDict["blocks.2.0.conv3.weight"] = zeros(4, 4, 3, 3);
            var ex = LoadFails(stateDict);
            Assert.Contains("unexpected keys (1): blocks.2.0.conv3.weight", ex.Message);
        }
        finally { DisposeAll(stateDict); }
    }

    [Fact]
    public void WrongShape_IsAnErrorThatNamesTheKeyAndBothShapes()
    {
        var stateDict = TinyStateDict();
        try
        {
            stateDict["linear.bias"].Dispose();
            stateDict["linear.bias"] = zeros(1000);
            var ex = LoadFails(stateDict);
            Assert.Contains("linear.bias is [1000], expected [1024]", ex.Message);
        }
        finally { DisposeAll(stateDict); }
    }

    [Fact]
    public void IntegerTensor_IsAnErrorThatNamesIt()
    {
        var stateDict = TinyStateDict();
        try
        {
            stateDict["blocks.0.0.bn1.stored_var"].Dispose();
            stateDict["blocks.0.0.bn1.stored_var"] = ones(64, dtype: int64);
            var ex = LoadFails(stateDict);
            Assert.Contains("blocks.0.0.bn1.stored_var is Int64", ex.Message);
        }
        finally { DisposeAll(stateDict); }
    }

    [Fact]
    public void ConfigurationThatDoesNotFit_ListsTheDifferences()
    {
        var stateDict = TinyStateDict();
        try
        {
            var ex = LoadFails(stateDict, BigGanConfig.ForResolution(512, channels: 4));
            Assert.Contains("BigGAN-512", ex.Message);
            Assert.Contains("blocks.6.0.conv1.weight", ex.Message);
            Assert.Contains("pass no configuration", ex.Message);
        }
        finally { DisposeAll(stateDict); }
    }

    [Fact]
    public void StateDictOfAnotherModel_SaysItIsNotABigGanGenerator()
    {
        var stateDict = new Dictionary<string, Tensor> { ["visual.conv1.weight"] = zeros(8, 3, 4, 4) };
        try
        {
            var ex = LoadFails(stateDict);
            Assert.Contains("'shared.weight'", ex.Message);
        }
        finally { DisposeAll(stateDict); }
    }

    [Fact]
    public void ShapesThatDescribeNoGenerator_AreADataError()
    {
        var stateDict = new Dictionary<string, Tensor>
        {
            ["shared.weight"] = zeros(1000, 128),
            ["linear.weight"] = zeros(0, 20),
        };
        for (var i = 0; i < 6; i++) stateDict[$"blocks.{i}.0.conv1.weight"] = zeros(1);
        try
        {
            var ex = LoadFails(stateDict);
            Assert.Contains("describe no valid BigGAN generator", ex.Message);
            Assert.Contains("Channels must be positive", ex.Message);
        }
        finally { DisposeAll(stateDict); }
    }

    [Fact]
    public void HalfPrecisionStateDict_LoadsAsFloat32()
    {
        var stateDict = TinyStateDict();
        var half = stateDict.ToDictionary(kv => kv.Key, kv => kv.Value.to(float16));
        try
        {
            using var generator = BigGanCheckpoint.FromStateDict(half);
            Assert.All(generator.state_dict().Values, t => Assert.Equal(ScalarType.Float32, t.dtype));
            using var expected = stateDict["shared.weight"].to(float16).to(float32);
            Assert.True(generator.state_dict()["shared.weight"].equal(expected).all().item<bool>());
        }
        finally
        {
            DisposeAll(stateDict);
            DisposeAll(half);
        }
    }

    [Fact]
    public void InferredConfiguration_RoundTripsEveryResolution()
    {
        foreach (var resolution in new[] { 128, 256, 512 })
        {
            var config = BigGanConfig.ForResolution(resolution, channels: 4);
            using var generator = BigGanRandomInit.Create(config, seed: 3);
            Assert.Equal(config with { DimZ = config.EffectiveDimZ }, BigGanConfig.InferFrom(generator.state_dict()));
        }
    }

    [Fact]
    public void Load_MissingFile_NamesThePath()
    {
        var ex = Assert.Throws<FileNotFoundException>(() => BigGanCheckpoint.Load("/nonexistent/biggan-256.pth"));
        Assert.Contains("/nonexistent/biggan-256.pth", ex.Message);
    }

    [Fact]
    public void Load_LegacyPickleCheckpoint_SaysHowToConvertIt()
    {
        var path = Path.Combine(Path.GetTempPath(), $"biggan-legacy-{Guid.NewGuid():N}.pth");
        try
        {
            // The start of a pre-1.6 torch.save file: pickle protocol 2, then the legacy magic number.
            File.WriteAllBytes(path, [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8]);
            var ex = Assert.Throws<NotSupportedException>(() => BigGanCheckpoint.Load(path).Dispose());
            Assert.Contains(path, ex.Message);
            Assert.Contains("torch.save(torch.load(old_path), new_path)", ex.Message);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Load_WrongConfiguration_NamesTheFile()
    {
        var path = Path.Combine(Path.GetTempPath(), $"biggan-{Guid.NewGuid():N}.safetensors");
        var stateDict = TinyStateDict();
        try
        {
            using (var stream = File.Create(path))
                TorchSharp.PyBridge.Safetensors.SaveStateDict(stream, stateDict);
            using (var loaded = BigGanCheckpoint.Load(path))
                Assert.Equal(Tiny.EffectiveDimZ, loaded.DimZ);
            var ex = Assert.Throws<InvalidDataException>(() => BigGanCheckpoint.Load(path, BigGanConfig.ForResolution(256)).Dispose());
            Assert.Contains(path, ex.Message);
            Assert.Contains("linear.weight is [1024, 20], expected [24576, 20]", ex.Message);
        }
        finally
        {
            DisposeAll(stateDict);
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData(300, 96, typeof(ArgumentOutOfRangeException), "resolution must be 128, 256 or 512")]
    [InlineData(256, 0, typeof(ArgumentException), "Channels must be positive")]
    public void ForResolution_RejectsImpossibleConfigurations(int resolution, int channels, Type exception, string message)
    {
        var ex = Assert.Throws(exception, () => BigGanConfig.ForResolution(resolution, channels));
        Assert.Contains(message, ex.Message);
    }

    [Fact]
    public void Validate_RejectsAttentionAtAResolutionWithoutABlock()
    {
        var config = BigGanConfig.ForResolution(256) with { AttentionResolution = 100 };
        var ex = Assert.Throws<ArgumentException>(config.Validate);
        Assert.Contains("AttentionResolution 100", ex.Message);
    }
}
