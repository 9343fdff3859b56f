using FuseDream.BigGan;
using FuseDream.Checkpoints;
using static TorchSharp.torch;

namespace FuseDream.Tests.Checkpoints;

/// <summary>The one strict loader both models use: every problem named, nothing copied unless all fit.</summary>
public sealed class StateDictLoaderTests
{
    private static Dictionary<string, Tensor> Weights(SNLinear layer) =>
        layer.state_dict().ToDictionary(kv => kv.Key, kv => full(kv.Value.shape, 0.5), StringComparer.Ordinal);

    [Fact]
    public void MatchingTensors_AreCopied_ConvertedToTheModulesType()
    {
        using var layer = new SNLinear(3, 2);
        var weights = Weights(layer);
        weights["weight"] = full(new long[] { 2, 3 }, 0.25, dtype: float64);

        StateDictLoader.LoadStrict(layer, weights);

        Assert.Equal(ScalarType.Float32, layer.state_dict()["weight"].dtype);
        Assert.Equal(0.25f, layer.state_dict()["weight"][1, 2].item<float>());
        Assert.Equal(0.5f, layer.state_dict()["u0"][0, 1].item<float>());
    }

    [Fact]
    public void EveryProblem_IsNamed_AndNothingIsCopied()
    {
        using var layer = new SNLinear(3, 2);
        var before = layer.state_dict()["bias"].clone();
        var weights = Weights(layer);
        weights.Remove("u0");
        weights["extra"] = zeros(1);
        weights["weight"] = zeros(4, 3);
        weights["sv0"] = ones(new long[] { 1 }, dtype: int64);

        var ex = Assert.Throws<StateDictMismatchException>(() => StateDictLoader.LoadStrict(layer, weights));

        Assert.Equal(["u0"], ex.MissingKeys);
        Assert.Equal(["extra"], ex.UnexpectedKeys);
        Assert.Equal(["weight", "sv0"], ex.MismatchedKeys);
        Assert.Contains("missing keys (1): u0", ex.Message);
        Assert.Contains("unexpected keys (1): extra", ex.Message);
        Assert.Contains("weight is [4, 3], expected [2, 3]", ex.Message);
        Assert.Contains("sv0 is Int64, expected a floating-point tensor", ex.Message);
        Assert.True(before.allclose(layer.state_dict()["bias"], rtol: 0, atol: 0));
    }

    [Fact]
    public void OptionalSuffixes_MayBeAbsent_AndKeepTheModulesValue()
    {
        using var layer = new SNLinear(3, 2);
        var weights = Weights(layer);
        weights.Remove("sv0");

        Assert.Throws<StateDictMismatchException>(() => StateDictLoader.LoadStrict(layer, weights));
        StateDictLoader.LoadStrict(layer, weights, optionalSuffixes: [".sv0", "sv0"]);

        Assert.Equal(1f, layer.state_dict()["sv0"].item<float>());
    }

    [Fact]
    public void Describe_ChoosesTheExceptionThrown()
    {
        using var layer = new SNLinear(3, 2);
        var weights = Weights(layer);
        weights.Remove("bias");

        var ex = Assert.Throws<InvalidDataException>(() =>
            StateDictLoader.LoadStrict(layer, weights, describe: m => new InvalidDataException($"{m.Missing.Count} missing: {m}")));
        Assert.Equal("1 missing: missing keys (1): bias", ex.Message);
    }
}
