using System.Text.Json;
using System.Text.RegularExpressions;
using FuseDream.Checkpoints;
using FuseDream.Tests.Support;
using static TorchSharp.torch;

namespace FuseDream.Tests.BigGan;

/// <summary>
/// The tiny BigGANs in the older TF-Hub port ("v1") layout (every folder under Fixtures/biggan
/// holding layouts.json): converted, each equals the ajbrock-layout file its descriptor names
/// (without .sv0) exactly, and, loaded, gives the reference image of its resolution.
/// </summary>
public class BigGanLayoutParityTests
{
    public const string Descriptor = "layouts.json";

    public static TheoryData<string, string> Files
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (var path in FixtureSets.Find(BigGanFixtureSet.Group, Descriptor))
            {
                var relative = Path.GetRelativePath(FixtureSets.Root, path);
                using var doc = FixtureSets.Load(relative);
                foreach (var file in doc.RootElement.GetProperty("files").EnumerateObject())
                    data.Add(relative, file.Name);
            }
            return data;
        }
    }

    private static JsonElement Entry(JsonDocument doc, string file) => doc.RootElement.GetProperty("files").GetProperty(file);

    [Theory]
    [MemberData(nameof(Files))]
    public void V1File_ConvertsToTheAjbrockFile_Exactly(string descriptor, string file)
    {
        using var doc = FixtureSets.Load(descriptor);
        var entry = Entry(doc, file);
        var target = FixtureSets.Resolve(descriptor, Regex.Match(entry.GetProperty("converts_to").GetString()!, @"^\S+").Value);
        var v1 = CheckpointReader.ReadTensors(FixtureSets.Resolve(descriptor, file));
        var expected = CheckpointReader.ReadTensors(target);
        Dictionary<string, Tensor>? converted = null;
        try
        {
            Assert.Equal(entry.GetProperty("keys").GetInt32(), v1.Count);
            Assert.Equal(CheckpointLayout.BigGanV1, CheckpointLayouts.Detect(v1.Keys));
            converted = LayoutConversion.ToOurs(v1, out var layout);
            Assert.Equal(CheckpointLayout.BigGanV1, layout);
            var wanted = expected.Keys.Where(k => !BigGanFixtureSet.IsSv0(k)).Order(StringComparer.Ordinal).ToList();
            Assert.Equal(wanted, converted.Keys.Order(StringComparer.Ordinal).ToList());
            foreach (var key in wanted)
            {
                Assert.Equal(expected[key].shape, converted[key].shape);
                Assert.True(expected[key].to(float64).eq(converted[key].to(float64)).all().item<bool>(), $"{descriptor}:{file}: '{key}' differs after conversion");
            }
        }
        finally
        {
            foreach (var t in v1.Values.Concat(expected.Values).Concat(converted?.Values.AsEnumerable() ?? [])) t.Dispose();
        }
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void V1File_Loaded_GivesTheReferenceImage(string descriptor, string file)
    {
        using var doc = FixtureSets.Load(descriptor);
        var resolution = Entry(doc, file).GetProperty("resolution").GetInt32();
        var parent = ParentDescriptor(descriptor);
        var model = BigGanFixtureSet.All().Select(row => ((string)row[0], (string)row[1]))
            .Where(row => row.Item1 == parent)
            .Select(row => row.Item2)
            .Single(m =>
            {
                using var candidate = new BigGanFixtureSet(parent, m);
                return candidate.Resolution == resolution;
            });
        using var set = new BigGanFixtureSet(parent, model);
        using var generator = BigGanCheckpoint.Load(FixtureSets.Resolve(descriptor, file));
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var y = generator.ClassEmbedding(set.Reference["input.classes"]);
        var (sharedAtol, sharedRtol) = set.Tolerance("output.shared");
        TensorAssert.Close(set.Reference["output.shared"], y, sharedAtol, sharedRtol, $"{descriptor}:{file} output.shared");
        var image = generator.Generate(set.Reference["input.z"], y);
        var views = set.TensorNames("output.image.");
        Assert.NotEmpty(views);
        foreach (var name in views)
        {
            var (atol, rtol) = set.Tolerance(name);
            TensorAssert.Close(set.Reference[name], BigGanFixtureSet.View(image, name["output.image.".Length..]), atol, rtol, $"{descriptor}:{file} {name}");
        }
    }

    /// <summary>The set a layouts descriptor derives from: the first "*.json" path its text names (e.g. "../biggan.json").</summary>
    private static string ParentDescriptor(string descriptor)
    {
        using var doc = FixtureSets.Load(descriptor);
        var match = Regex.Match(doc.RootElement.GetRawText(), @"(?<path>(\.\./)+[\w.\-/]+\.json)");
        Assert.True(match.Success, $"{descriptor} names no parent descriptor (such as ../biggan.json)");
        return Path.GetRelativePath(FixtureSets.Root, FixtureSets.Resolve(descriptor, match.Groups["path"].Value));
    }
}
