using System.Text.Json;

namespace FuseDream.Models;

/// <summary>
/// The tensor names and shapes a checkpoint of one model must hold. Read from the manifest JSON
/// (<c>state_dict: [{ key, shape }, ...]</c>) written by the original Python code for the
/// released dimensions. Used to verify files whose publisher gives no checksum, and to tell
/// which of two unlabeled files is which.
/// </summary>
internal sealed class ModelManifest
{
    private ModelManifest(string name, IReadOnlyDictionary<string, long[]> shapes, IReadOnlyList<string> optionalKeySuffixes)
    {
        Name = name;
        Shapes = shapes;
        OptionalKeySuffixes = optionalKeySuffixes;
    }

    public string Name { get; }
    public IReadOnlyDictionary<string, long[]> Shapes { get; }
    public IReadOnlyList<string> OptionalKeySuffixes { get; }

    public static ModelManifest Parse(Stream stream, string name, IReadOnlyList<string>? optionalKeySuffixes = null)
    {
        using var document = JsonDocument.Parse(stream);
        if (!document.RootElement.TryGetProperty("state_dict", out var entries) || entries.ValueKind != JsonValueKind.Array)
            throw new InvalidDataException($"Manifest '{name}' has no \"state_dict\" array of {{ \"key\", \"shape\" }} entries.");
        var shapes = new Dictionary<string, long[]>(StringComparer.Ordinal);
        foreach (var e in entries.EnumerateArray())
        {
            var key = e.GetProperty("key").GetString()
                ?? throw new InvalidDataException($"Manifest '{name}' has an entry with a null key.");
            shapes[key] = e.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray();
        }
        return new ModelManifest(name, shapes, optionalKeySuffixes ?? []);
    }

    /// <summary>Compares a checkpoint's tensor shapes with this manifest. Extra tensors are allowed (archives carry a few scalars).</summary>
    public ManifestCheck Check(IReadOnlyDictionary<string, long[]> actual)
    {
        var missing = new List<string>();
        var mismatched = new List<string>();
        foreach (var (key, expected) in Shapes)
        {
            if (!actual.TryGetValue(key, out var shape))
            {
                if (!OptionalKeySuffixes.Any(s => key.EndsWith(s, StringComparison.Ordinal)))
                    missing.Add(key);
                continue;
            }
            if (!shape.SequenceEqual(expected))
                mismatched.Add($"{key} is [{string.Join(", ", shape)}], expected [{string.Join(", ", expected)}]");
        }
        var extra = actual.Keys.Where(k => !Shapes.ContainsKey(k)).Order(StringComparer.Ordinal).ToList();
        return new ManifestCheck(Name, missing, mismatched, extra);
    }
}

/// <summary>Outcome of <see cref="ModelManifest.Check"/>.</summary>
internal sealed record ManifestCheck(string Manifest, IReadOnlyList<string> Missing, IReadOnlyList<string> Mismatched, IReadOnlyList<string> Extra)
{
    public bool Matches => Missing.Count == 0 && Mismatched.Count == 0;

    /// <summary>One line for an error message: counts plus the first few offenders.</summary>
    public string Describe()
    {
        if (Matches)
            return $"all tensors of manifest '{Manifest}' present with the expected shapes" + (Extra.Count > 0 ? $" ({Extra.Count} extra tensors ignored)" : "");
        var parts = new List<string>();
        if (Missing.Count > 0)
            parts.Add($"{Missing.Count} tensors missing (e.g. {string.Join(", ", Missing.Take(3))})");
        if (Mismatched.Count > 0)
            parts.Add($"{Mismatched.Count} tensors with other shapes (e.g. {string.Join("; ", Mismatched.Take(3))})");
        if (Extra.Count > 0)
            parts.Add($"{Extra.Count} unexpected tensors (e.g. {string.Join(", ", Extra.Take(3))})");
        return $"does not match manifest '{Manifest}': {string.Join("; ", parts)}";
    }
}
