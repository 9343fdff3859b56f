using System.Text.Json;
using FuseDream.Clip;
using FuseDream.Tests.Support;
using static TorchSharp.torch;
using FuseDream.Checkpoints;

namespace FuseDream.Tests.Clip;

/// <summary>
/// The released CLIP ViTs (manifests of every state-dict key and shape of ViT-B/32, B/16, L/14):
/// a checkpoint with exactly those tensors loads, the inferred dimensions are the released ones,
/// and the model built from them has exactly those keys, shapes and parameter count.
/// Tensors live on the meta device (shapes without storage), so even ViT-L/14 costs nothing.
/// </summary>
public class ClipManifestTests
{
    public static TheoryData<string> Manifests
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (var path in Directory.EnumerateFiles(Path.Combine(FixtureSets.Root, "manifests"), "clip_*.json").Order(StringComparer.Ordinal))
                data.Add(Path.GetFileName(path));
            return data;
        }
    }

    private static readonly Device Meta = new(TorchSharp.DeviceType.META);

    [Theory]
    [MemberData(nameof(Manifests))]
    public void ReleasedCheckpointLayout_Loads_WithTheReleasedDimensions(string manifest)
    {
        using var doc = FixtureSets.Load(Path.Combine("manifests", manifest));
        var root = doc.RootElement;
        var entries = root.GetProperty("state_dict").EnumerateArray().ToList();
        var checkpoint = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            foreach (var e in entries)
            {
                var shape = e.GetProperty("shape").EnumerateArray().Select(s => s.GetInt64()).ToArray();
                var dtype = e.GetProperty("dtype").GetString() == "float16" ? ScalarType.Float16 : ScalarType.Float32;
                checkpoint[e.GetProperty("key").GetString()!] = empty(shape, dtype, device: Meta);
            }
            // OpenAI's archives also carry these 0-dim metadata buffers; the loader must skip them.
            foreach (var extra in root.GetProperty("extra_archive_keys").EnumerateObject().Where(p => p.Value.ValueKind == JsonValueKind.Number))
                checkpoint[extra.Name] = tensor(extra.Value.GetInt64());

            using var model = ClipCheckpoint.FromStateDict(checkpoint, Meta);

            var dims = root.GetProperty("dims");
            var expected = new ClipConfig(
                dims.GetProperty("embed_dim").GetInt32(), dims.GetProperty("image_resolution").GetInt32(),
                dims.GetProperty("vision_layers").GetInt32(), dims.GetProperty("vision_width").GetInt32(),
                dims.GetProperty("vision_patch_size").GetInt32(), dims.GetProperty("context_length").GetInt32(),
                dims.GetProperty("vocab_size").GetInt32(), dims.GetProperty("transformer_width").GetInt32(),
                dims.GetProperty("transformer_heads").GetInt32(), dims.GetProperty("transformer_layers").GetInt32());
            Assert.Equal(expected, model.Config);
            Assert.Equal(root.GetProperty("vision_heads").GetInt32(), model.Config.VisionHeads);
            Assert.Equal(root.GetProperty("grid").GetInt32(), model.Config.Grid);
            AssertLayout(root, model);
        }
        finally
        {
            foreach (var t in checkpoint.Values) t.Dispose();
        }
    }

    [Theory]
    [InlineData("clip_ViT-B-32.json")]
    [InlineData("clip_ViT-B-16.json")]
    [InlineData("clip_ViT-L-14.json")]
    public void NamedConfigs_BuildTheReleasedLayout(string manifest)
    {
        using var doc = FixtureSets.Load(Path.Combine("manifests", manifest));
        var config = manifest switch
        {
            "clip_ViT-B-32.json" => ClipConfig.VitB32,
            "clip_ViT-B-16.json" => ClipConfig.VitB16,
            _ => ClipConfig.VitL14,
        };
        using var model = new ClipModel(config, Meta);
        AssertLayout(doc.RootElement, model);
    }

    private static void AssertLayout(JsonElement root, ClipModel model)
    {
        var entries = root.GetProperty("state_dict").EnumerateArray().ToList();
        var own = model.state_dict();
        Assert.Equal(root.GetProperty("num_state_dict_tensors").GetInt32(), own.Count);
        Assert.Equal(entries.Select(e => e.GetProperty("key").GetString()!), own.Keys);
        foreach (var e in entries)
        {
            var key = e.GetProperty("key").GetString()!;
            var shape = e.GetProperty("shape").EnumerateArray().Select(s => s.GetInt64()).ToArray();
            Assert.True(shape.SequenceEqual(own[key].shape), $"{key}: [{string.Join(",", own[key].shape)}], manifest [{string.Join(",", shape)}]");
        }
        Assert.Equal(root.GetProperty("num_parameters").GetInt64(), model.parameters().Sum(p => p.numel()));
    }
}
