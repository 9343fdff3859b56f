using System.Security.Cryptography;
using FuseDream.Checkpoints;

namespace FuseDream.Models;

/// <summary>
/// What a check found: the verdict, the tensor shapes in our layout (when it read them), the
/// layout the file is in, and whether a published checksum vouched for it (only then may an
/// OpenAI TorchScript archive be opened).
/// </summary>
internal sealed record FileCheck(VerifyResult Result, IReadOnlyDictionary<string, long[]>? Shapes, CheckpointLayout Layout, bool ChecksumVerified,
    CheckpointFormat? Format = null);

/// <summary>
/// Checks one model file against its catalog entry, before anything in it is loaded or run:
/// the checksum its source publishes (SHA-256 or MD5) when there is one; then its tensor names,
/// element types and shapes, read from the file's metadata with the total tensor bytes bounded,
/// mapped to our layout and compared with the model's manifest (naming the catalog model it
/// is instead, when it matches another).
/// </summary>
internal sealed class ModelFileChecker(ModelCatalog catalog)
{
    public const string LoadMethod = "tensor names, types and shapes against the manifest";

    /// <param name="source">Where the file came from; null for a file already in the store or placed by hand (any source's published SHA-256 then vouches for it).</param>
    public async Task<FileCheck> CheckAsync(ModelEntry entry, ModelSource? source, string path, CancellationToken ct)
    {
        var sha = await FileHash.Sha256Async(path, ct).ConfigureAwait(false);
        var methods = new List<string>();
        var checksumVerified = false;
        if (source?.Sha256 is { } published)
        {
            if (sha != published)
                return Fail(VerifyStatus.ChecksumMismatch, "published SHA-256", $"SHA-256 is {sha}, the published checksum is {published}: wrong or damaged file");
            methods.Add("published SHA-256");
            checksumVerified = true;
        }
        if (source?.Md5 is { } publishedMd5)
        {
            var md5 = await Md5Async(path, ct).ConfigureAwait(false);
            if (md5 != publishedMd5)
                return Fail(VerifyStatus.ChecksumMismatch, "published MD5", $"MD5 is {md5}, the published checksum is {publishedMd5}: wrong or damaged file");
            methods.Add("published MD5");
        }
        if (source is null && entry.SourceWithSha256(sha) is { } vouching)
        {
            methods.Add($"published SHA-256 of {vouching.Url}");
            checksumVerified = true;
        }
        if (methods.Count == 0 && entry.Manifest is null)
        {
            // Nothing but a checksum can vouch for this model, and none matches.
            var publishedHashes = entry.Sources.Select(s => s.Sha256).Where(h => h is not null).Distinct().ToList();
            return Fail(VerifyStatus.ChecksumMismatch, "published SHA-256",
                $"SHA-256 is {sha}, the published checksum is {string.Join(" or ", publishedHashes)}: wrong or damaged file");
        }

        CheckpointFormat format;
        Dictionary<string, TensorInfo> infos;
        try
        {
            format = CheckpointReader.DetectFormat(path);
            infos = await Task.Run(() => ReadInfos(path, format, checksumVerified, MaxTensorBytes(entry, source)), ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return Fail(VerifyStatus.Unreadable, string.Join("; ", methods.Append(LoadMethod)), $"cannot be read as a checkpoint ({e.GetType().Name}: {e.Message})");
        }

        var layout = CheckpointLayouts.Detect(infos.Keys);
        // A catalog entry without a kind accepts either kind; one with a kind only its own.
        var wrongKind = entry.Kind is "clip" or "biggan" ? CheckpointLayouts.Kind(layout) != entry.Kind : layout == CheckpointLayout.Unknown;
        if (wrongKind || layout == CheckpointLayout.ClipResNet)
        {
            return new FileCheck(new VerifyResult(entry.Id, path, VerifyStatus.ManifestMismatch, sha, string.Join("; ", methods.Append(LoadMethod)),
                $"it is {CheckpointLayouts.DescribeKeys(infos.Keys)}, not {(entry.Kind is "clip" ? "a CLIP ViT" : entry.Kind is "biggan" ? "a BigGAN generator" : "a model this program can load")}"),
                null, layout, checksumVerified, format);
        }
        Dictionary<string, TensorInfo> ours;
        try
        {
            var shapes = infos.ToDictionary(kv => kv.Key, kv => kv.Value.Shape, StringComparer.Ordinal);
            ours = LayoutConversion.For(layout, shapes).ApplyShapes(infos);
        }
        catch (Exception e) when (e is InvalidDataException or ArgumentException or KeyNotFoundException or Clip.ClipStateDictException)
        {
            return new FileCheck(new VerifyResult(entry.Id, path, VerifyStatus.ManifestMismatch, sha, LoadMethod,
                $"{CheckpointLayouts.Describe(layout)} that cannot be mapped to ours: {e.Message}"), null, layout, checksumVerified, format);
        }
        var ourShapes = ours.ToDictionary(kv => kv.Key, kv => kv.Value.Shape, StringComparer.Ordinal);
        var layoutNote = $"{CheckpointLayouts.Describe(layout)}";

        if (entry.Manifest is null)
        {
            var method = string.Join("; ", methods);
            return new FileCheck(new VerifyResult(entry.Id, path, VerifyStatus.Ok, sha, method, $"SHA-256 {sha} matches the published checksum ({layoutNote})"),
                ourShapes, layout, checksumVerified, format);
        }
        methods.Add(LoadMethod);
        var manifest = catalog.LoadManifest(entry);
        var match = manifest.Check(ourShapes);
        var notFloat = manifest.Shapes.Keys.Where(k => ours.TryGetValue(k, out var info) && !info.IsFloatingPoint)
            .Select(k => $"{k} is {ours[k].DType}").ToList();
        if (match.Matches && notFloat.Count == 0)
            return new FileCheck(new VerifyResult(entry.Id, path, VerifyStatus.Ok, sha, string.Join("; ", methods),
                $"{layoutNote}: {match.Describe()}; SHA-256 {sha}"), ourShapes, layout, checksumVerified, format);

        var other = notFloat.Count == 0 ? IdentifyOther(entry, ourShapes) : null;
        var message = $"{layoutNote}, but it {(match.Matches ? "" : match.Describe())}"
                      + (notFloat.Count > 0 ? $"{(match.Matches ? "" : "; ")}has tensors that are not floating point ({string.Join(", ", notFloat.Take(3))})" : "")
                      + (other is null ? "" : $"; it is model '{other}' (matches that manifest)");
        return new FileCheck(new VerifyResult(entry.Id, path, VerifyStatus.ManifestMismatch, sha, string.Join("; ", methods), message),
            ourShapes, layout, checksumVerified, format);

        FileCheck Fail(VerifyStatus status, string method, string message) =>
            new(new VerifyResult(entry.Id, path, status, sha, method, message), null, CheckpointLayout.Unknown, false);
    }

    /// <summary>Which other catalog model (verified by manifest, same kind) a rejected file is, if any.</summary>
    public string? IdentifyOther(ModelEntry entry, IReadOnlyDictionary<string, long[]> shapes)
    {
        foreach (var other in catalog.Models)
        {
            if (other.Id == entry.Id || other.Kind != entry.Kind || other.Manifest is null || other.Sources.All(s => s.HasPublishedChecksum))
                continue;
            if (catalog.LoadManifest(other).Check(shapes).Matches)
                return other.Id;
        }
        return null;
    }

    /// <summary>
    /// The most tensor data a file of this model may hold: its size (the source's, else the
    /// largest the catalog gives) with 20 % to spare; 16 GiB when the catalog gives none.
    /// </summary>
    public static long MaxTensorBytes(ModelEntry entry, ModelSource? source)
    {
        var size = source?.SizeBytes ?? entry.Sources.Select(s => s.SizeBytes).Append(entry.SizeBytes).Max();
        return size is long bytes ? MaxDownloadBytes(bytes) : 16L << 30;
    }

    /// <summary>The catalog's size × 1.2 plus 1 MiB (headers, pickles): what a download may not exceed.</summary>
    public static long MaxDownloadBytes(long catalogSize) => catalogSize + catalogSize / 5 + (1 << 20);

    private static Dictionary<string, TensorInfo> ReadInfos(string path, CheckpointFormat format, bool checksumVerified, long maxBytes)
    {
        if (format != CheckpointFormat.TorchScript)
            return CheckpointReader.ReadInfos(path, maxBytes);
        if (!checksumVerified)
            throw new InvalidDataException("a TorchScript archive without a matching published SHA-256 is not opened (only OpenAI's CLIP archives are)");
        var tensors = CheckpointReader.ReadTensors(path, allowTorchScript: true);
        try
        {
            return tensors.ToDictionary(kv => kv.Key, kv => new TensorInfo(TensorInfo.DTypeOf(kv.Value.dtype), kv.Value.shape), StringComparer.Ordinal);
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }

    private static async Task<string> Md5Async(string path, CancellationToken ct)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, useAsync: true);
        return Convert.ToHexStringLower(await MD5.HashDataAsync(stream, ct).ConfigureAwait(false));
    }
}
