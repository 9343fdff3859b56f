using FuseDream.Checkpoints;

namespace FuseDream.Models;

/// <summary>What a check found, and the tensor shapes it read (when it loaded the file).</summary>
internal sealed record FileCheck(VerifyResult Result, IReadOnlyDictionary<string, long[]>? Shapes);

/// <summary>
/// Checks one model file against its catalog entry: the published SHA-256 when there is one,
/// otherwise by reading the checkpoint's tensor names and shapes against the model's manifest
/// (and naming the catalog model it is instead, when it matches another).
/// </summary>
internal sealed class ModelFileChecker(ModelCatalog catalog)
{
    /// <summary>Published checksum when there is one; otherwise load the file and compare tensor names and shapes.</summary>
    public async Task<FileCheck> CheckAsync(ModelEntry entry, string path, CancellationToken ct)
    {
        var sha = await FileHash.Sha256Async(path, ct).ConfigureAwait(false);
        if (entry.Sha256 is not null)
        {
            const string method = "published SHA-256";
            var result = sha == entry.Sha256
                ? new VerifyResult(entry.Id, path, VerifyStatus.Ok, sha, method, $"SHA-256 {sha} matches the published checksum")
                : new VerifyResult(entry.Id, path, VerifyStatus.ChecksumMismatch, sha, method,
                    $"SHA-256 is {sha}, the published checksum is {entry.Sha256}: wrong or damaged file");
            return new FileCheck(result, null);
        }

        const string loadMethod = "loading it (tensor names and shapes)";
        var manifest = catalog.LoadManifest(entry);
        IReadOnlyDictionary<string, long[]> shapes;
        try
        {
            shapes = await Task.Run(() => ReadShapes(path), ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return new FileCheck(new VerifyResult(entry.Id, path, VerifyStatus.Unreadable, sha, loadMethod,
                $"cannot be read as a checkpoint ({e.GetType().Name}: {e.Message})"), null);
        }
        var match = manifest.Check(shapes);
        if (match.Matches)
            return new FileCheck(new VerifyResult(entry.Id, path, VerifyStatus.Ok, sha, loadMethod, $"{match.Describe()}; SHA-256 {sha}"), shapes);

        var other = IdentifyOther(entry, shapes);
        var message = $"{match.Describe()}" + (other is null ? "" : $"; it is model '{other}' (matches that manifest)");
        return new FileCheck(new VerifyResult(entry.Id, path, VerifyStatus.ManifestMismatch, sha, loadMethod, message), shapes);
    }

    /// <summary>Which other catalog model (verified by manifest, same kind) a rejected file is, if any.</summary>
    public string? IdentifyOther(ModelEntry entry, IReadOnlyDictionary<string, long[]> shapes)
    {
        foreach (var other in catalog.Models)
        {
            if (other.Id == entry.Id || other.Kind != entry.Kind || other.Manifest is null || other.Sha256 is not null)
                continue;
            if (catalog.LoadManifest(other).Check(shapes).Matches)
                return other.Id;
        }
        return null;
    }

    private static Dictionary<string, long[]> ReadShapes(string path)
    {
        var tensors = CheckpointReader.ReadTensors(path);
        try
        {
            return tensors.ToDictionary(kv => kv.Key, kv => kv.Value.shape, StringComparer.Ordinal);
        }
        finally
        {
            foreach (var tensor in tensors.Values)
                tensor.Dispose();
        }
    }
}
