using System.Text.Json;
using System.Text.RegularExpressions;
using FuseDream.Clip;
using FuseDream.Tests.Support;
using static TorchSharp.torch;
using FuseDream.Checkpoints;

namespace FuseDream.Tests.Clip;

/// <summary>
/// Every CLIP fixture set (a folder under Fixtures/clip holding clip.json) against openai/CLIP's
/// outputs: features, logits and the per-layer taps, within the descriptor's tolerances, with the
/// model loaded from each file the descriptor lists (TorchScript archive and state dict).
/// </summary>
public class ClipParityTests
{
    public static TheoryData<string, string> Sets
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (var set in FixtureSets.Find("clip", "clip.json"))
            {
                // One row per model file the descriptor lists (every "files" entry but the reference outputs).
                var relative = Path.GetRelativePath(FixtureSets.Root, set);
                using var doc = FixtureSets.Load(relative);
                foreach (var file in doc.RootElement.GetProperty("files").EnumerateObject().Where(f => f.Name != "reference"))
                    data.Add(relative, file.Name);
            }
            return data;
        }
    }

    /// <summary>The descriptor's "files" entries are "&lt;file name&gt; (description)".</summary>
    internal static string FileOf(string set, JsonElement root, string kind) =>
        FixtureSets.Resolve(set, Regex.Match(root.GetProperty("files").GetProperty(kind).GetString()!, @"^\S+").Value);

    [Theory]
    [MemberData(nameof(Sets))]
    public void Outputs_MatchOpenAiClip(string set, string fileKind)
    {
        using var doc = FixtureSets.Load(set);
        AssertMatchesReference(set, FileOf(set, doc.RootElement, fileKind), fileKind);
    }

    /// <summary>Loads <paramref name="modelPath"/> and compares every output the set's descriptor lists, within its tolerances.</summary>
    internal static void AssertMatchesReference(string set, string modelPath, string fileKind)
    {
        using var doc = FixtureSets.Load(set);
        var root = doc.RootElement;
        using var reference = new ReferenceTensors(FileOf(set, root, "reference"));
        using var model = ClipCheckpoint.Load(modelPath);
        using var scope = NewDisposeScope();

        var config = root.GetProperty("config");
        Assert.Equal(config.GetProperty("embed_dim").GetInt32(), model.EmbedDim);
        Assert.Equal(config.GetProperty("image_resolution").GetInt32(), model.InputResolution);
        Assert.Equal(config.GetProperty("context_length").GetInt32(), model.ContextLength);
        Assert.Equal(config.GetProperty("vision_heads").GetInt32(), model.Config.VisionHeads);
        Assert.Equal(config.GetProperty("transformer_heads").GetInt32(), model.Config.TransformerHeads);
        Assert.Equal(config.GetProperty("logit_scale_exp").GetDouble(), model.LogitScaleExp, 4);

        var image = reference["input.image"].to(float32);
        var text = reference["input.text"].to(int64);
        var taps = new Dictionary<string, Tensor>();
        void Tap(string module, Tensor value) => taps[$"debug.{module}"] = value.detach().clone().DetachFromDisposeScope();
        var actual = new Dictionary<string, Tensor>
        {
            ["output.image_features"] = model.EncodeImage(image, Tap),
            ["output.text_features"] = model.EncodeText(text, Tap),
        };
        var (perImage, perText) = model.Forward(image, text);
        actual["output.logits_per_image"] = perImage;
        actual["output.logits_per_text"] = perText;
        foreach (var (name, tap) in taps) actual[name] = tap;

        var tolerances = root.GetProperty("tolerances");
        var compared = 0;
        foreach (var entry in root.GetProperty("tensors").EnumerateObject())
        {
            var name = entry.Name;
            if (name.StartsWith("input.", StringComparison.Ordinal)) continue;
            var tapName = name.EndsWith(".first8", StringComparison.Ordinal) ? name[..^".first8".Length] : name;
            Assert.True(actual.ContainsKey(tapName), $"{set}: nothing computed for reference tensor '{name}'");
            var value = actual[tapName];
            if (name.EndsWith(".first8", StringComparison.Ordinal)) value = value[.., ..8, ..];
            var (atol, rtol) = Tolerance(tolerances, name);
            TensorAssert.Close(reference[name], value, atol, rtol, $"{set} [{fileKind}] {name}");
            compared++;
        }
        Assert.True(compared >= 4, $"{set}: only {compared} reference tensors compared");
        foreach (var t in taps.Values) t.Dispose();
    }

    private static (double Atol, double Rtol) Tolerance(JsonElement tolerances, string name)
    {
        foreach (var entry in tolerances.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Object) continue;
            var pattern = "^" + Regex.Escape(entry.Name).Replace("\\*", ".*") + "$";
            if (entry.Name == name || Regex.IsMatch(name, pattern))
                return (entry.Value.GetProperty("atol").GetDouble(), entry.Value.GetProperty("rtol").GetDouble());
        }
        throw new KeyNotFoundException($"No tolerance in the descriptor for '{name}'.");
    }
}
