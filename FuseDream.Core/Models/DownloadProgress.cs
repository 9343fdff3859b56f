namespace FuseDream.Models;

/// <summary>A snapshot of one download, reported a few times a second and once at the end.</summary>
/// <param name="ModelId">Catalog id of the model being fetched.</param>
/// <param name="Url">The source being read (after any confirmation page).</param>
/// <param name="BytesReceived">Bytes on disk for this source, including those resumed from an earlier attempt.</param>
/// <param name="TotalBytes">The file's full size when the server says it.</param>
/// <param name="BytesPerSecond">Average rate of the current connection.</param>
/// <param name="Eta">Time left at that rate, when the total is known.</param>
/// <param name="Completed">True on the last report of a source, when every byte arrived.</param>
public sealed record DownloadProgress(
    string ModelId,
    string Url,
    long BytesReceived,
    long? TotalBytes,
    double BytesPerSecond,
    TimeSpan? Eta,
    bool Completed)
{
    /// <summary>0..1 when the total is known.</summary>
    public double? Fraction => TotalBytes is > 0 ? Math.Min(1.0, (double)BytesReceived / TotalBytes.Value) : null;
}
