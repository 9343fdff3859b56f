using System.Text.Json;

namespace FuseDream.Tests.Support;

/// <summary>
/// Finds fixture sets: every folder under <c>Fixtures/&lt;group&gt;/</c> (any depth) that holds the
/// group's descriptor JSON is one set. Parity tests take their cases from here, so a new set
/// dropped beside the others is tested with no code change.
/// </summary>
public static class FixtureSets
{
    public static string Root => Path.Combine(AppContext.BaseDirectory, "Fixtures");

    /// <summary>Paths of every descriptor named <paramref name="descriptorName"/> under <c>Fixtures/<paramref name="group"/></c>.</summary>
    public static IReadOnlyList<string> Find(string group, string descriptorName) => Find(Root, group, descriptorName);

    /// <summary>The same search under another fixtures root.</summary>
    public static IReadOnlyList<string> Find(string root, string group, string descriptorName)
    {
        var dir = Path.Combine(root, group);
        if (!Directory.Exists(dir))
            throw new DirectoryNotFoundException($"Fixture group folder missing: {dir}");
        var found = Directory.EnumerateFiles(dir, descriptorName, SearchOption.AllDirectories)
            .OrderBy(p => p, StringComparer.Ordinal)
            .ToList();
        if (found.Count == 0)
            throw new FileNotFoundException($"No fixture set ({descriptorName}) under {dir}");
        return found;
    }

    /// <summary>xunit member data: one row per set, as the path relative to <see cref="Root"/>.</summary>
    public static TheoryData<string> Theory(string group, string descriptorName)
    {
        var data = new TheoryData<string>();
        foreach (var path in Find(group, descriptorName))
            data.Add(Path.GetRelativePath(Root, path));
        return data;
    }

    public static JsonDocument Load(string relativePath) =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(Root, relativePath)));

    /// <summary>Resolves a file named in a descriptor relative to the descriptor's folder.</summary>
    public static string Resolve(string descriptorRelativePath, string file) =>
        Path.GetFullPath(Path.Combine(Root, Path.GetDirectoryName(descriptorRelativePath)!, file));
}
