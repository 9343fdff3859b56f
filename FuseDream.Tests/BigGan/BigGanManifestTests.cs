using System.Text.Json;
using FuseDream.BigGan;
using FuseDream.Tests.Support;

namespace FuseDream.Tests.BigGan;

/// <summary>
/// Full-size generators (G_ch 96) built from FuseDream's get_G configurations hold exactly the
/// state dict of the original: every manifest under Fixtures/manifests/ named biggan_*.json.
/// </summary>
public class BigGanManifestTests
{
    public static TheoryData<string> Manifests()
    {
        var data = new TheoryData<string>();
        foreach (var path in Directory.EnumerateFiles(Path.Combine(FixtureSets.Root, "manifests"), "biggan_*.json").Order(StringComparer.Ordinal))
            data.Add(Path.GetFileName(path));
        return data;
    }

    [Theory]
    [MemberData(nameof(Manifests))]
    public void RandomFullSizeGenerator_HasExactlyTheManifestsKeysShapesAndCounts(string manifestFile)
    {
        using var manifest = FixtureSets.Load(Path.Combine("manifests", manifestFile));
        var root = manifest.RootElement;
        var passed = root.GetProperty("config_passed_to_Generator");
        var resolution = passed.GetProperty("resolution").GetInt32();
        var config = BigGanConfig.ForResolution(resolution);
        // The configuration ForResolution gives is the one get_G passes.
        Assert.Equal(passed.GetProperty("G_ch").GetInt32(), config.Channels);
        Assert.Equal(passed.GetProperty("dim_z").GetInt32(), config.DimZ);
        Assert.Equal(passed.GetProperty("shared_dim").GetInt32(), config.SharedDim);
        Assert.Equal(passed.GetProperty("n_classes").GetInt32(), config.NumClasses);
        Assert.Equal(int.Parse(passed.GetProperty("G_attn").GetString()!, System.Globalization.CultureInfo.InvariantCulture), config.AttentionResolution);
        Assert.Equal(root.GetProperty("arch").GetProperty("effective_dim_z").GetInt32(), config.EffectiveDimZ);

        using var generator = BigGanRandomInit.Create(config, seed: 1);
        var expected = root.GetProperty("state_dict").EnumerateArray()
            .ToDictionary(e => e.GetProperty("key").GetString()!, e => Shape(e.GetProperty("shape")));
        var stateDict = generator.state_dict();
        var actual = stateDict.ToDictionary(kv => kv.Key, kv => string.Join(",", kv.Value.shape));
        var missing = expected.Keys.Except(actual.Keys).Order().ToList();
        var extra = actual.Keys.Except(expected.Keys).Order().ToList();
        Assert.True(missing.Count == 0 && extra.Count == 0, $"missing: {string.Join(", ", missing)}; extra: {string.Join(", ", extra)}");
        foreach (var (key, shape) in expected)
            Assert.True(shape == actual[key], $"{key}: [{actual[key]}], manifest [{shape}]");
        Assert.All(stateDict.Values, t => Assert.Equal(TorchSharp.torch.ScalarType.Float32, t.dtype));
        Assert.Equal(root.GetProperty("num_state_dict_tensors").GetInt32(), stateDict.Count);

        var parameters = generator.named_parameters().ToList();
        Assert.Equal(root.GetProperty("parameter_keys").EnumerateArray().Select(e => e.GetString()!).Order(), parameters.Select(p => p.name).Order());
        Assert.Equal(root.GetProperty("num_parameters").GetInt64(), parameters.Sum(p => p.parameter.numel()));
        Assert.Equal(root.GetProperty("num_buffer_elements").GetInt64(), generator.named_buffers().Sum(b => b.buffer.numel()));
    }

    private static string Shape(JsonElement shape) => string.Join(",", shape.EnumerateArray().Select(e => e.GetInt64()));
}
