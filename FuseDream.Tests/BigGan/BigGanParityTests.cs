using FuseDream.BigGan;
using FuseDream.Checkpoints;
using FuseDream.Tests.Support;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace FuseDream.Tests.BigGan;

/// <summary>
/// Numbers of the C# generator against the original's, for every model of every fixture set
/// under Fixtures/biggan/ (openai/CLIP test_consistency style, driven by biggan.json).
/// </summary>
public class BigGanParityTests(ITestOutputHelper output)
{
    public static TheoryData<string, string> Sets => BigGanFixtureSet.All();

    [Theory]
    [MemberData(nameof(Sets))]
    public void ClassEmbedding_MatchesOriginal(string descriptor, string model)
    {
        using var set = new BigGanFixtureSet(descriptor, model);
        using var generator = BigGanCheckpoint.Load(set.WeightsPath);
        using var scope = NewDisposeScope();
        var shared = generator.ClassEmbedding(set.Reference["input.classes"]);
        var (atol, rtol) = set.Tolerance("output.shared");
        TensorAssert.Close(set.Reference["output.shared"], shared, atol, rtol, $"{set.Name} output.shared");
    }

    [Theory]
    [MemberData(nameof(Sets))]
    public void Image_MatchesOriginal(string descriptor, string model) => ImageMatchesOriginal(descriptor, model, channelsLast: false);

    /// <summary>The channels-last trial (<see cref="BigGanGenerator.ChannelsLast"/>) within the same tolerances.</summary>
    [Theory]
    [MemberData(nameof(Sets))]
    public void Image_MatchesOriginal_WithChannelsLastConvolutions(string descriptor, string model) => ImageMatchesOriginal(descriptor, model, channelsLast: true);

    private static void ImageMatchesOriginal(string descriptor, string model, bool channelsLast)
    {
        using var set = new BigGanFixtureSet(descriptor, model);
        using var generator = BigGanCheckpoint.Load(set.WeightsPath);
        generator.ChannelsLast = channelsLast;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var y = generator.ClassEmbedding(set.Reference["input.classes"]);
        var image = generator.Generate(set.Reference["input.z"], y);
        Assert.Equal([y.shape[0], 3L, set.Resolution, set.Resolution], image.shape);

        var views = set.TensorNames("output.image.");
        Assert.NotEmpty(views);
        foreach (var name in views)
        {
            var (atol, rtol) = set.Tolerance(name);
            TensorAssert.Close(set.Reference[name], BigGanFixtureSet.View(image, name["output.image.".Length..]), atol, rtol, $"{set.Name} {name}");
        }

        var image64 = image.to(float64);
        CheckScalar(set, "output.image_sum", image64.sum());
        CheckScalar(set, "output.image_abs_sum", image64.abs().sum());
        var weights = set.WeightingTensor(image.shape);
        CheckScalar(set, "output.weighted_sum", (image * weights).sum());
    }

    [Theory]
    [MemberData(nameof(Sets))]
    public void Gradients_WithRespectToZAndY_MatchOriginal(string descriptor, string model)
    {
        using var set = new BigGanFixtureSet(descriptor, model);
        using var generator = BigGanCheckpoint.Load(set.WeightsPath);
        using var scope = NewDisposeScope();
        var z = set.Reference["input.z"].clone().requires_grad_(true);
        var y = generator.ClassEmbedding(set.Reference["input.classes"]).detach().requires_grad_(true);
        var image = generator.Generate(z, y);
        var weightedSum = (image * set.WeightingTensor(image.shape)).sum();
        weightedSum.backward();

        foreach (var (name, actual) in new[] { ("grad.z", z.grad!), ("grad.shared", y.grad!) })
        {
            var expected = set.Reference[name];
            var (atol, rtol) = set.Tolerance(name);
            TensorAssert.Close(expected, actual, atol, rtol, $"{set.Name} {name}");
            // Agreement to tolerances_strict is typical but not guaranteed (a ReLU or max-pool gate
            // within rounding distance of its tie may flip): report it, do not require it.
            var maxGrad = expected.abs().max().item<float>();
            var relative = (actual - expected).abs().max().item<float>() / maxGrad;
            var strictNote = "";
            if (set.HasTolerance(name, "tolerances_strict"))
            {
                var strict = set.Tolerance(name, "tolerances_strict");
                var withinStrict = ((actual - expected).abs() <= strict.Atol + strict.Rtol * expected.abs()).all().item<bool>();
                strictNote = $"; within tolerances_strict (atol {strict.Atol:G3} = {strict.Atol / maxGrad:G2} of max|grad|): {withinStrict}";
            }
            output.WriteLine($"{set.Name} {name}: max|diff| / max|grad| = {relative:G3}{strictNote}");
        }
        Assert.All(generator.parameters(), p => Assert.Null(p.grad));
    }

    [Theory]
    [MemberData(nameof(Sets))]
    public void IntermediateActivations_MatchOriginal(string descriptor, string model)
    {
        using var set = new BigGanFixtureSet(descriptor, model);
        using var generator = BigGanCheckpoint.Load(set.WeightsPath);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var wanted = set.TensorNames("debug.").Where(n => !n.StartsWith("debug.sn_sigma.", StringComparison.Ordinal)).ToHashSet();
        Assert.NotEmpty(wanted);
        var seen = new Dictionary<string, Tensor>();
        var y = generator.ClassEmbedding(set.Reference["input.classes"]);
        generator.Forward(set.Reference["input.z"], y, (module, value) =>
        {
            // The forward pass frees its intermediates: keep copies outside its dispose scopes.
            if (wanted.Contains($"debug.{module}")) seen[$"debug.{module}"] = value.clone().DetachFromDisposeScope();
            if (wanted.Contains($"debug.{module}.sub4")) seen[$"debug.{module}.sub4"] = BigGanFixtureSet.View(value, "sub4").clone().DetachFromDisposeScope();
        });
        Assert.Equal(wanted.Order(), seen.Keys.Order());
        try
        {
            foreach (var (name, actual) in seen)
            {
                var (atol, rtol) = set.Tolerance(name);
                TensorAssert.Close(set.Reference[name], actual, atol, rtol, $"{set.Name} {name}");
            }
        }
        finally
        {
            foreach (var t in seen.Values) t.Dispose();
        }
    }

    [Theory]
    [MemberData(nameof(Sets))]
    public void SpectralNormSigmas_MatchOriginalEvalMode(string descriptor, string model)
    {
        using var set = new BigGanFixtureSet(descriptor, model);
        using var generator = BigGanCheckpoint.Load(set.WeightsPath);
        var layers = generator.named_modules()
            .Where(m => m.module is ISpectralNormLayer)
            .ToDictionary(m => m.name, m => ((ISpectralNormLayer)m.module).Sigma);
        var names = set.TensorNames("debug.sn_sigma.");
        Assert.Equal(layers.Keys.Order(), names.Select(n => n["debug.sn_sigma.".Length..]).Order());
        foreach (var name in names)
        {
            var (atol, rtol) = set.Tolerance(name);
            using var actual = tensor(new[] { layers[name["debug.sn_sigma.".Length..]] });
            TensorAssert.Close(set.Reference[name], actual, atol, rtol, $"{set.Name} {name}");
        }
    }

    [Theory]
    [MemberData(nameof(Sets))]
    public void StateDict_HasTheOriginalKeysAndShapes(string descriptor, string model)
    {
        using var set = new BigGanFixtureSet(descriptor, model);
        var expected = set.StateDictKeys;
        var sv0Present = set.Sv0KeysPresent;

        // The checkpoint holds what its descriptor lists, with or without the sv0 buffers as it says.
        var stored = CheckpointReader.ReadTensors(set.WeightsPath);
        try
        {
            Assert.Equal(expected.OrderBy(kv => kv.Key), stored.ToDictionary(kv => kv.Key, kv => string.Join(",", kv.Value.shape)).OrderBy(kv => kv.Key));
            Assert.Equal(sv0Present, stored.Keys.Any(BigGanFixtureSet.IsSv0));
        }
        finally
        {
            foreach (var t in stored.Values) t.Dispose();
        }

        // The generator always holds one sv0 buffer per spectral-norm layer (beside its u0), as
        // the original module does; a checkpoint without them lacks only those.
        using var generator = BigGanCheckpoint.Load(set.WeightsPath);
        var actual = generator.state_dict().ToDictionary(kv => kv.Key, kv => string.Join(",", kv.Value.shape));
        Assert.Equal(expected.Where(kv => !BigGanFixtureSet.IsSv0(kv.Key)).OrderBy(kv => kv.Key),
            actual.Where(kv => !BigGanFixtureSet.IsSv0(kv.Key)).OrderBy(kv => kv.Key));
        var sv0 = actual.Keys.Where(BigGanFixtureSet.IsSv0).ToList();
        Assert.NotEmpty(sv0);
        Assert.Equal(expected.Keys.Where(k => k.EndsWith(".u0", StringComparison.Ordinal)).Select(k => k[..^".u0".Length]).Order(),
            sv0.Select(k => k[..^".sv0".Length]).Order());
        if (sv0Present)
            Assert.Equal(expected.Where(kv => BigGanFixtureSet.IsSv0(kv.Key)).OrderBy(kv => kv.Key), actual.Where(kv => BigGanFixtureSet.IsSv0(kv.Key)).OrderBy(kv => kv.Key));
        Assert.Equal(set.Model.GetProperty("num_parameters").GetInt64(), generator.parameters().Sum(p => p.numel()));
    }

    [Theory]
    [MemberData(nameof(Sets))]
    public void InferredConfig_MatchesTheOriginalArchitecture(string descriptor, string model)
    {
        using var set = new BigGanFixtureSet(descriptor, model);
        using var generator = BigGanCheckpoint.Load(set.WeightsPath);
        var passed = set.Model.GetProperty("config_passed_to_Generator");
        var arch = set.Model.GetProperty("arch");
        var config = generator.Config;
        Assert.Equal(passed.GetProperty("resolution").GetInt32(), config.Resolution);
        Assert.Equal(passed.GetProperty("G_ch").GetInt32(), config.Channels);
        Assert.Equal(passed.GetProperty("shared_dim").GetInt32(), config.SharedDim);
        Assert.Equal(passed.GetProperty("n_classes").GetInt32(), config.NumClasses);
        Assert.Equal(int.Parse(passed.GetProperty("G_attn").GetString()!, System.Globalization.CultureInfo.InvariantCulture), config.AttentionResolution);
        Assert.Equal(passed.GetProperty("BN_eps").GetDouble(), config.BatchNormEps);
        Assert.Equal(passed.GetProperty("SN_eps").GetDouble(), config.SpectralNormEps);
        Assert.Equal(arch.GetProperty("effective_dim_z").GetInt32(), generator.DimZ);
        Assert.Equal(arch.GetProperty("num_slots").GetInt32(), config.NumSlots);
        Assert.Equal(arch.GetProperty("z_chunk_size").GetInt32(), config.ZChunkSize);
        Assert.Equal(arch.GetProperty("in_channels").EnumerateArray().Select(e => e.GetInt32()), config.BlockInChannels);
        Assert.Equal(arch.GetProperty("out_channels").EnumerateArray().Select(e => e.GetInt32()), config.BlockOutChannels);
        Assert.Equal(arch.GetProperty("resolution").EnumerateArray().Select(e => e.GetInt32()), config.BlockResolutions);

        // The configuration FuseDream's get_G passes, with this set's width, describes the same generator.
        var forResolution = BigGanConfig.ForResolution(config.Resolution, config.Channels);
        Assert.Equal(passed.GetProperty("dim_z").GetInt32(), forResolution.DimZ);
        Assert.Equal(forResolution.EffectiveDimZ, config.EffectiveDimZ);
        Assert.Equal(forResolution.AttentionResolution, config.AttentionResolution);
    }

    [Theory]
    [MemberData(nameof(Sets))]
    public void CheckpointWithoutSv0Buffers_LoadsAndGivesTheSameImage(string descriptor, string model)
    {
        // Eval never reads sv0: the same weights with and without the buffers give the same image.
        // A set that has them is compared with its copy stripped of them; a set without them
        // (as released checkpoints are) with a copy given arbitrary ones.
        using var set = new BigGanFixtureSet(descriptor, model);
        var withoutBuffers = CheckpointReader.ReadTensors(set.WeightsPath);
        var withBuffers = new Dictionary<string, Tensor>(withoutBuffers);
        try
        {
            var stored = withoutBuffers.Keys.Where(BigGanFixtureSet.IsSv0).ToList();
            Assert.Equal(set.Sv0KeysPresent, stored.Count > 0);
            if (set.Sv0KeysPresent)
            {
                foreach (var key in stored) withoutBuffers.Remove(key);
            }
            else
            {
                foreach (var key in withoutBuffers.Keys.Where(k => k.EndsWith(".u0", StringComparison.Ordinal)).ToList())
                {
                    withBuffers[key[..^".u0".Length] + ".sv0"] = full(1, 12.5f);
                }
            }
            Assert.DoesNotContain(withoutBuffers.Keys, BigGanFixtureSet.IsSv0);
            Assert.Contains(withBuffers.Keys, BigGanFixtureSet.IsSv0);

            using var withSv0 = BigGanCheckpoint.FromStateDict(withBuffers);
            using var withoutSv0 = BigGanCheckpoint.FromStateDict(withoutBuffers);
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var z = set.Reference["input.z"];
            var y = withSv0.ClassEmbedding(set.Reference["input.classes"]);
            var difference = (withSv0.Generate(z, y) - withoutSv0.Generate(z, y)).abs().max().item<float>();
            Assert.True(difference == 0, $"images differ by up to {difference} when the sv0 buffers are absent");
        }
        finally
        {
            foreach (var t in withBuffers.Values) t.Dispose();
        }
    }

    private static void CheckScalar(BigGanFixtureSet set, string name, Tensor actual)
    {
        var (atol, rtol) = set.Tolerance(name);
        TensorAssert.Close(set.Reference[name], actual.reshape(1), atol, rtol, $"{set.Name} {name}");
    }
}
