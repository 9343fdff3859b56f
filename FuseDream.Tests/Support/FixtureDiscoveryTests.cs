using System.Text.Json.Nodes;
using FuseDream.Checkpoints;
using FuseDream.Tests.BigGan;
using FuseDream.Tests.Clip;
using FuseDream.Tests.Generation;
using FuseDream.Tests.Text;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace FuseDream.Tests.Support;

/// <summary>
/// The parity tests are data-driven: a fixture set placed beside the others, at any depth, is
/// found (per group), and a set's files are read relative to its descriptor, under whatever
/// names the descriptor gives them. The second test moves every group elsewhere, renames the
/// files its descriptor names (editing the descriptor to match) and runs the real parity test
/// bodies on the moved copy. The third builds a BigGAN set the way released checkpoints are,
/// without the optional sv0 buffers, and runs the bodies that must follow its descriptor on it.
/// </summary>
public sealed class FixtureDiscoveryTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("fusedream-fixtures-").FullName;

    public static TheoryData<string, string> Groups => new()
    {
        { "tokenizer", "cases.json" },
        { "clip", "clip.json" },
        { "biggan", "biggan.json" },
        { "diffaugment", "diffaugment.json" },
        { "fusedream", "fusedream.json" },
    };

    [Theory]
    [MemberData(nameof(Groups))]
    public void ASetPlacedBesideTheOthers_IsFound_AtAnyDepth(string group, string descriptor)
    {
        var existing = FixtureSets.Find(group, descriptor);
        CopyDirectory(Path.Combine(FixtureSets.Root, group), Path.Combine(_root, group));
        CopyDirectory(Path.Combine(FixtureSets.Root, group), Path.Combine(_root, group, "more", "seed-7"));

        var found = FixtureSets.Find(_root, group, descriptor);

        Assert.Equal(2 * existing.Count, found.Count);
        Assert.Contains(Path.Combine(_root, group, "more", "seed-7", descriptor), found);
    }

    [Theory]
    [MemberData(nameof(Groups))]
    public void AMovedSet_WithRenamedFiles_PassesItsParityTests(string group, string descriptor)
    {
        // The fusedream set names its models as ../clip/… and ../biggan/…: move the groups together.
        foreach (var g in new[] { "tokenizer", "clip", "biggan", "diffaugment", "fusedream" })
            CopyDirectory(Path.Combine(FixtureSets.Root, g), Path.Combine(_root, g));
        Rename("tokenizer", "cases.json", ("bpe_simple_vocab_16e6.txt.gz", "vocab-moved.txt.gz"));
        Rename("clip", "clip.json", ("clip_tiny_jit.pt", "clip-moved-jit.pt"), ("clip_tiny_state_dict.pt", "clip-moved-sd.pt"), ("clip_reference.safetensors", "clip-moved-ref.safetensors"));
        Rename("biggan", "biggan.json", ("G256_tiny.pth", "G-moved-256.pth"), ("G512_tiny.pth", "G-moved-512.pth"),
            ("G256_reference.safetensors", "G-moved-256-ref.safetensors"), ("G512_reference.safetensors", "G-moved-512-ref.safetensors"));
        Edit("fusedream", "fusedream.json", ("clip_tiny_jit.pt", "clip-moved-jit.pt"), ("G256_tiny.pth", "G-moved-256.pth"));
        var set = Path.Combine(_root, group, descriptor); // absolute: FixtureSets.Load/Resolve take it as is

        switch (group)
        {
            case "tokenizer":
                new ClipTokenizerParityTests().Tokenize_MatchesClipTokenize_ForEveryCase(set);
                break;
            case "clip":
                new ClipParityTests().Outputs_MatchOpenAiClip(set, "torchscript");
                new ClipParityTests().Outputs_MatchOpenAiClip(set, "state_dict");
                break;
            case "biggan":
                using (var moved = new BigGanFixtureSet(set, "512"))
                    Assert.StartsWith(_root, moved.WeightsPath);
                new BigGanParityTests(output).ClassEmbedding_MatchesOriginal(set, "512");
                new BigGanParityTests(output).Image_MatchesOriginal(set, "512");
                break;
            case "diffaugment":
                new DiffAugmentParityTests().EveryCase_MatchesTheOriginal_GivenItsDraws(set);
                break;
            case "fusedream":
                using (var moved = new FuseDreamFixtureSet(set))
                {
                    Assert.StartsWith(_root, moved.ClipPath);
                    Assert.StartsWith(_root, moved.GeneratorPath);
                }
                new AugClipParityTests().PlainScore_LossInputAndGradient_MatchNaiveSemanticLoss(set);
                new OptimizationParityTests().Combination_IsASoftmaxOverTheBasis_PerCoordinate(set);
                break;
            default:
                throw new ArgumentException($"no parity test listed for group '{group}'");
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(null)]
    public void ABigGanSetWithoutSv0Buffers_PassesTheSameParityTests(bool? stated)
    {
        // Released checkpoints lack the spectral-norm sv0 buffers. A set built like one (the 512
        // weights without them, saved as safetensors) either says so in sv0_keys_present or
        // leaves the key out and lists no sv0 key; the parity test bodies must pass on it as they
        // pass on the set that has them, and fail on a descriptor that contradicts itself.
        CopyDirectory(Path.Combine(FixtureSets.Root, "biggan"), Path.Combine(_root, "biggan"));
        var descriptorPath = Path.Combine(_root, "biggan", "biggan.json");
        var descriptor = JsonNode.Parse(File.ReadAllText(descriptorPath))!;
        var model = descriptor["models"]!["512"]!.AsObject();
        var weights = CheckpointReader.ReadTensors(Path.Combine(_root, "biggan", model["weights_file"]!.GetValue<string>()));
        try
        {
            var released = weights.Where(kv => !BigGanFixtureSet.IsSv0(kv.Key)).ToDictionary();
            Assert.NotEqual(weights.Count, released.Count);
            using (var stream = File.Create(Path.Combine(_root, "biggan", "G512-released.safetensors")))
                TorchSharp.PyBridge.Safetensors.SaveStateDict(stream, released);
        }
        finally
        {
            foreach (var t in weights.Values) t.Dispose();
        }
        model["weights_file"] = "G512-released.safetensors";
        var keys = model["state_dict_keys"]!.AsObject();
        foreach (var key in keys.Select(kv => kv.Key).Where(BigGanFixtureSet.IsSv0).ToList()) keys.Remove(key);
        model.Remove("sv0_keys_present");
        if (stated is { } value) model["sv0_keys_present"] = value;
        File.WriteAllText(descriptorPath, descriptor.ToJsonString());

        using (var set = new BigGanFixtureSet(descriptorPath, "512"))
            Assert.False(set.Sv0KeysPresent);
        var tests = new BigGanParityTests(output);
        tests.StateDict_HasTheOriginalKeysAndShapes(descriptorPath, "512");
        tests.CheckpointWithoutSv0Buffers_LoadsAndGivesTheSameImage(descriptorPath, "512");

        model["sv0_keys_present"] = true;
        File.WriteAllText(descriptorPath, descriptor.ToJsonString());
        var contradiction = Assert.Throws<TrueException>(() => tests.StateDict_HasTheOriginalKeysAndShapes(descriptorPath, "512"));
        Assert.Contains("sv0_keys_present is True", contradiction.Message);
    }

    /// <summary>Renames files of a moved group and edits its descriptor to name them so.</summary>
    private void Rename(string group, string descriptor, params (string From, string To)[] renames)
    {
        foreach (var (from, to) in renames)
            File.Move(Path.Combine(_root, group, from), Path.Combine(_root, group, to));
        Edit(group, descriptor, renames);
    }

    private void Edit(string group, string descriptor, params (string From, string To)[] replacements)
    {
        var path = Path.Combine(_root, group, descriptor);
        var text = File.ReadAllText(path);
        foreach (var (from, to) in replacements)
        {
            Assert.Contains(from, text);
            text = text.Replace(from, to, StringComparison.Ordinal);
        }
        File.WriteAllText(path, text);
    }

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
