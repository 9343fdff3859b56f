using System.Text.Json;

namespace FuseDream.Models;

/// <summary>
/// What the store knows about a placed file, kept beside it as <c>&lt;file&gt;.receipt.json</c>:
/// the SHA-256 observed when it was verified, where it came from and how it was checked. For
/// models without a published checksum this recorded SHA-256 is what later <c>verify</c> runs
/// compare against, so corruption is caught without loading the file again. The store keeps
/// every model as safetensors in our layout: <see cref="Sha256"/> is that file's, while
/// <see cref="SourceSha256"/> and <see cref="SourceLayout"/> say what was downloaded (or placed).
/// </summary>
public sealed record StoreReceipt(
    string ModelId,
    string File,
    long Bytes,
    string Sha256,
    string Source,
    string VerifiedBy,
    DateTimeOffset RecordedAt,
    string? SourceSha256 = null,
    string? SourceLayout = null)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public static string PathFor(string modelFilePath) => modelFilePath + ".receipt.json";

    public static StoreReceipt? TryRead(string modelFilePath)
    {
        var path = PathFor(modelFilePath);
        if (!System.IO.File.Exists(path))
            return null;
        try
        {
            return JsonSerializer.Deserialize<StoreReceipt>(System.IO.File.ReadAllText(path), Json);
        }
        catch (JsonException)
        {
            return null; // a damaged receipt is as good as none: the file gets verified from scratch
        }
    }

    /// <summary>Writes atomically (temp file + rename) so a reader never sees half a receipt.</summary>
    public void Write(string modelFilePath)
    {
        var path = PathFor(modelFilePath);
        var temp = path + ".tmp";
        System.IO.File.WriteAllText(temp, JsonSerializer.Serialize(this, Json));
        System.IO.File.Move(temp, path, overwrite: true);
    }
}
