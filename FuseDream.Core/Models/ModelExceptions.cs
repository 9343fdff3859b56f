namespace FuseDream.Models;

/// <summary>A model the program needs is not in the store. The message says how to get it.</summary>
public sealed class ModelNotFoundException : FileNotFoundException
{
    public ModelNotFoundException(ModelEntry entry, string expectedPath)
        : base(BuildMessage(entry, expectedPath), expectedPath)
    {
        ModelId = entry.Id;
        ExpectedPath = expectedPath;
    }

    public string ModelId { get; }
    public string ExpectedPath { get; }

    private static string BuildMessage(ModelEntry entry, string path) =>
        $"Model '{entry.Id}' ({entry.Name}{ModelText.SizeSuffix(entry)}) is not in the model store ({Path.GetDirectoryName(path)}).{Environment.NewLine}" +
        $"Fetch it with:{Environment.NewLine}" +
        $"  FuseDream.Worker models pull {entry.Id}{Environment.NewLine}" +
        $"or download it yourself and place the file by hand at:{Environment.NewLine}" +
        $"  {path}{Environment.NewLine}" +
        $"(sources: {string.Join(" , ", entry.Sources)}). The store directory is set by {ModelStore.DirectoryVariable}.";
}

/// <summary>Every source of a model failed. The message names each URL with its error and where to put the file by hand.</summary>
public sealed class ModelPullException : Exception
{
    public ModelPullException(ModelEntry entry, string targetPath, IReadOnlyList<SourceFailure> failures)
        : base(BuildMessage(entry, targetPath, failures))
    {
        ModelId = entry.Id;
        TargetPath = targetPath;
        Failures = failures;
    }

    public string ModelId { get; }
    public string TargetPath { get; }
    public IReadOnlyList<SourceFailure> Failures { get; }

    private static string BuildMessage(ModelEntry entry, string path, IReadOnlyList<SourceFailure> failures)
    {
        var nl = Environment.NewLine;
        var lines = failures.Select((f, i) => $"  {i + 1}. {f.Url}{nl}     -> {f.Error}");
        var manual = entry.Sources.Select(source => $"  - {source.Url}" + (source.Sha256 is not null ? $" (SHA-256 {source.Sha256})" : source.Md5 is not null ? $" (MD5 {source.Md5})" : ""));
        return $"Could not fetch model '{entry.Id}' ({entry.Name}{ModelText.SizeSuffix(entry)}). Every source failed:{nl}" +
               string.Join(nl, lines) + nl +
               $"What to do: download any one of these files by hand (on another machine if this one is offline; a plain-HTTP source also with --allow-insecure):{nl}" +
               string.Join(nl, manual) + nl +
               $"place it, under any name and in any of these layouts, at:{nl}" +
               $"  {path}{nl}" +
               $"then run `FuseDream.Worker models verify {entry.Id}`: it checks the file (its published checksum, or its tensor names, types and shapes " +
               "against the manifest), converts it to the store's format and records its SHA-256.";
    }
}

/// <summary>One source that could not deliver a good file, and why.</summary>
public sealed record SourceFailure(string Url, string Error);

/// <summary>Sizes and labels as the messages and the command line print them.</summary>
public static class ModelText
{
    public static string SizeSuffix(ModelEntry entry) =>
        entry.SizeBytes is long size ? $", {(entry.SizeIsEstimate ? "about " : "")}{FormatBytes(size)}" : "";

    public static string FormatBytes(double bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        var unit = 0;
        while (bytes >= 1024 && unit < units.Length - 1)
        {
            bytes /= 1024;
            unit++;
        }
        return unit == 0 ? $"{bytes:0} {units[unit]}" : $"{bytes:0.0} {units[unit]}";
    }
}
