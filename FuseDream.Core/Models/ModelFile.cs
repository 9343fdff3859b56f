using FuseDream.Checkpoints;

namespace FuseDream.Models;

/// <summary>
/// A model file and its SHA-256 (for the images' provenance), worked out at most once however
/// many pipelines load the file: the model store's receipt when it describes this very file
/// (same name and size, written after the file last changed), else by hashing the file the
/// first time the hash is asked for.
/// </summary>
public sealed class ModelFile
{
    private readonly Lazy<string> _sha256;

    public ModelFile(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        Path = path;
        _sha256 = new Lazy<string>(() => ReceiptSha256(path) ?? FileHash.Sha256(path), LazyThreadSafetyMode.ExecutionAndPublication);
    }

    public string Path { get; }

    /// <summary>Lower-case hex SHA-256 of the file's bytes.</summary>
    public string Sha256 => _sha256.Value;

    /// <summary>Whether <see cref="Sha256"/> has been worked out already (by a receipt or a hash).</summary>
    public bool IsHashed => _sha256.IsValueCreated;

    public override string ToString() => Path;

    /// <summary>The SHA-256 the store recorded for this file, when its receipt still describes it.</summary>
    private static string? ReceiptSha256(string path)
    {
        if (StoreReceipt.TryRead(path) is not { } receipt) return null;
        var file = new FileInfo(path);
        if (!file.Exists || receipt.Bytes != file.Length) return null;
        if (!string.Equals(receipt.File, file.Name, StringComparison.Ordinal)) return null;
        if (file.LastWriteTimeUtc > receipt.RecordedAt.UtcDateTime) return null; // changed since it was verified
        return string.IsNullOrWhiteSpace(receipt.Sha256) ? null : receipt.Sha256.ToLowerInvariant();
    }
}
