using System.Text.RegularExpressions;
using FuseDream.Checkpoints;
using FuseDream.Tests.Support;

namespace FuseDream.Tests.Clip;

/// <summary>
/// The tiny CLIP in the layouts the real weights are published in today (every folder under
/// Fixtures/clip holding layouts.json): each file the descriptor lists loads, is recognised, and
/// gives the outputs of the CLIP set the descriptor names, within that set's tolerances.
/// </summary>
public class ClipLayoutParityTests
{
    public const string Descriptor = "layouts.json";

    public static TheoryData<string, string> Files
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (var path in FixtureSets.Find("clip", Descriptor))
            {
                var relative = Path.GetRelativePath(FixtureSets.Root, path);
                using var doc = FixtureSets.Load(relative);
                foreach (var file in doc.RootElement.GetProperty("files").EnumerateObject())
                    data.Add(relative, file.Name);
            }
            return data;
        }
    }

    /// <summary>The set a layouts descriptor derives from: the first "*.json" path its text names (e.g. "../clip.json").</summary>
    internal static string ParentSet(string descriptor)
    {
        using var doc = FixtureSets.Load(descriptor);
        var text = doc.RootElement.GetRawText();
        var match = Regex.Match(text, @"(?<path>(\.\./)+[\w.\-/]+\.json)");
        Assert.True(match.Success, $"{descriptor} names no parent descriptor (such as ../clip.json)");
        return Path.GetRelativePath(FixtureSets.Root, FixtureSets.Resolve(descriptor, match.Groups["path"].Value));
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void LayoutFile_GivesTheReferenceOutputs(string descriptor, string file)
    {
        var path = FixtureSets.Resolve(descriptor, file);
        ClipParityTests.AssertMatchesReference(ParentSet(descriptor), path, $"{descriptor}:{file}");
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void LayoutFile_IsRecognisedAsClip(string descriptor, string file)
    {
        var tensors = CheckpointReader.ReadTensors(FixtureSets.Resolve(descriptor, file));
        try
        {
            var layout = CheckpointLayouts.Detect(tensors.Keys);
            Assert.Contains(layout, new[] { CheckpointLayout.ClipOpenAi, CheckpointLayout.ClipTransformers });
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }
}
