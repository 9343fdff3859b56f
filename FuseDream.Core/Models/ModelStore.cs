using System.Security.Cryptography;
using FuseDream.Checkpoints;
using FuseDream.Clip;

namespace FuseDream.Models;

/// <summary>
/// The local folder of model weights: finds them, fetches them from the catalog's sources and
/// checks them. A file is only ever placed at its final path by a rename after it was verified,
/// so a model that <see cref="TryLocate"/> finds was complete when it was placed.
/// </summary>
public sealed class ModelStore
{
    public const string DirectoryVariable = "FUSEDREAM_MODELS";
    public const string ContainerDirectory = "/models";
    private const string PartialSuffix = ".partial";

    private readonly ModelStoreOptions _options;
    private readonly ModelDownloader _downloader;
    private readonly ModelFileChecker _checker;

    public ModelStore(string directory, ModelCatalog catalog)
        : this(directory, catalog, new ModelStoreOptions())
    {
    }

    public ModelStore(string directory, ModelCatalog catalog, ModelStoreOptions options)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Directory = Path.GetFullPath(directory);
        Catalog = catalog;
        _options = options;
        _downloader = new ModelDownloader(options);
        _checker = new ModelFileChecker(catalog);
    }

    /// <summary>The store directory from the environment and the built-in catalog (or the one <c>FUSEDREAM_MODEL_CATALOG</c> names).</summary>
    public static ModelStore CreateDefault() => CreateDefault(new ModelStoreOptions());

    public static ModelStore CreateDefault(ModelStoreOptions options) =>
        new(ResolveDirectory(), ModelCatalog.LoadDefault(), options);

    /// <summary><c>FUSEDREAM_MODELS</c>, else <c>/models</c> in a container, else <c>~/.cache/fusedream/models</c>.</summary>
    public static string ResolveDirectory(Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        var configured = environment(DirectoryVariable);
        if (!string.IsNullOrWhiteSpace(configured))
            return Path.GetFullPath(configured);
        if (string.Equals(environment("DOTNET_RUNNING_IN_CONTAINER"), "true", StringComparison.OrdinalIgnoreCase))
            return ContainerDirectory;
        var home = environment("HOME") is { Length: > 0 } h ? h : Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return Path.Combine(home, ".cache", "fusedream", "models");
    }

    public string Directory { get; }

    public ModelCatalog Catalog { get; }

    /// <summary>Where the model's file is, or would be once pulled or placed by hand.</summary>
    public string PathFor(string modelId) => PathFor(Catalog.Get(modelId));

    /// <summary>The model's path if its file is present.</summary>
    public string? TryLocate(string modelId)
    {
        var path = PathFor(modelId);
        return File.Exists(path) ? path : null;
    }

    /// <summary>The model's path; throws <see cref="ModelNotFoundException"/> (naming the pull command and the path) when absent.</summary>
    public string Locate(string modelId)
    {
        var entry = Catalog.Get(modelId);
        var path = PathFor(entry);
        return File.Exists(path) ? path : throw new ModelNotFoundException(entry, path);
    }

    /// <summary>
    /// For start-up code: the model's path when present; otherwise pulls it when
    /// <paramref name="pullIfMissing"/> (a service configured to fetch on first start), else
    /// throws <see cref="ModelNotFoundException"/> naming the pull command and the path.
    /// </summary>
    public async Task<string> EnsureAsync(string modelId, bool pullIfMissing, IProgress<DownloadProgress>? progress, CancellationToken ct)
    {
        if (TryLocate(modelId) is { } path)
            return path;
        return pullIfMissing
            ? await PullAsync(modelId, progress, ct).ConfigureAwait(false)
            : Locate(modelId);
    }

    /// <summary>The receipt recorded when the model was placed or last verified, if any.</summary>
    public StoreReceipt? ReadReceipt(string modelId) => StoreReceipt.TryRead(PathFor(modelId));

    /// <summary>
    /// Makes the model present and verified, downloading it when needed; returns its path.
    /// Sources are tried in catalog order; a source that fails (after retries) or delivers a
    /// file that does not verify is reported and the next one is tried.
    /// </summary>
    public async Task<string> PullAsync(string modelId, IProgress<DownloadProgress>? progress, CancellationToken ct)
    {
        var entry = Catalog.Get(modelId);
        System.IO.Directory.CreateDirectory(Directory);
        var target = PathFor(entry);

        using var held = await ModelLock.AcquireAsync(LockPath(entry), _options.LockPollInterval,
            () => _options.Log?.Invoke($"{entry.Id}: another pull of this model is running; waiting for it ({LockPath(entry)})"), ct).ConfigureAwait(false);

        // Whoever held the lock before us may have placed it already.
        if (File.Exists(target))
        {
            var present = await VerifyLockedAsync(entry, target, ct).ConfigureAwait(false);
            if (present.IsValid)
            {
                _options.Log?.Invoke($"{entry.Id}: already present at {target} ({present.Method})");
                return target;
            }
            _options.Log?.Invoke($"{entry.Id}: the file at {target} is not good ({present.Message}); fetching a fresh copy");
        }

        if (await TryAdoptLegacyFileAsync(entry, target, ct).ConfigureAwait(false))
            return target;

        var failures = new List<SourceFailure>();
        for (var i = 0; i < entry.Sources.Count; i++)
        {
            var source = entry.Sources[i];
            var url = source.Url;
            _options.Log?.Invoke($"{entry.Id}: trying source {i + 1} of {entry.Sources.Count}: {url}{(source.Note is null ? "" : $" ({source.Note})")}");
            var partial = PartialPath(entry, url);
            try
            {
                await _downloader.DownloadAsync(entry.Id, source, partial, ModelFileChecker.MaxDownloadBytes(SizeOf(entry, source)), progress, ct,
                    i + 1 < entry.Sources.Count ? entry.Sources[i + 1].Url : null).ConfigureAwait(false);
            }
            catch (DownloadFailure failure)
            {
                failures.Add(new SourceFailure(url, failure.Message));
                _options.Log?.Invoke($"{entry.Id}: {url} failed: {failure.Message}{NextHint(entry, i)}");
                continue;
            }

            var check = await _checker.CheckAsync(entry, source, partial, ct).ConfigureAwait(false);
            if (!check.Result.IsValid)
            {
                var adopted = check.Shapes is not null ? await TryAdoptAsync(entry, partial, url, check, ct).ConfigureAwait(false) : null;
                if (adopted is null)
                    File.Delete(partial);
                var error = check.Result.Message + (adopted is null ? "" : $"; kept it as '{adopted}'");
                failures.Add(new SourceFailure(url, error));
                _options.Log?.Invoke($"{entry.Id}: {url} rejected: {error}{NextHint(entry, i)}");
                continue;
            }

            try
            {
                await PlaceAsync(entry, partial, target, url, check, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is InvalidDataException or NotSupportedException or ArgumentException or KeyNotFoundException or ClipStateDictException)
            {
                File.Delete(partial);
                failures.Add(new SourceFailure(url, $"verified, but could not be converted to the store's format: {e.Message}"));
                _options.Log?.Invoke($"{entry.Id}: {url} could not be converted: {e.Message}{NextHint(entry, i)}");
                continue;
            }
            DeletePartials(entry);
            _options.Log?.Invoke($"{entry.Id}: placed {target} (from {url}, {CheckpointLayouts.Describe(check.Layout)}; checked by {check.Result.Method})");
            return target;
        }
        throw new ModelPullException(entry, target, failures);
    }

    /// <summary>
    /// A file left by an earlier version of the store under the model's old name is checked like
    /// a file placed by hand and, when good, converted into place: no download for it.
    /// </summary>
    private async Task<bool> TryAdoptLegacyFileAsync(ModelEntry entry, string target, CancellationToken ct)
    {
        foreach (var name in entry.LegacyFiles)
        {
            var legacy = Path.Combine(Directory, Path.GetFileName(name));
            if (!File.Exists(legacy) || string.Equals(legacy, target, StringComparison.Ordinal))
                continue;
            var check = await _checker.CheckAsync(entry, null, legacy, ct).ConfigureAwait(false);
            if (!check.Result.IsValid)
            {
                _options.Log?.Invoke($"{entry.Id}: {legacy} (this model's earlier file name) is not good ({check.Result.Message}); leaving it");
                continue;
            }
            var source = StoreReceipt.TryRead(legacy)?.Source ?? "placed by hand";
            await PlaceAsync(entry, legacy, target, source, check, ct).ConfigureAwait(false); // deletes the legacy file once converted
            File.Delete(StoreReceipt.PathFor(legacy));
            _options.Log?.Invoke($"{entry.Id}: converted {legacy} (this model's earlier file name) to {target}; no download needed");
            return true;
        }
        return false;
    }

    private static string NextHint(ModelEntry entry, int index) =>
        index + 1 < entry.Sources.Count ? $"; trying the next source ({entry.Sources[index + 1].Url})" : "";

    private static long SizeOf(ModelEntry entry, ModelSource source) => source.SizeBytes ?? entry.SizeBytes ?? (16L << 30);

    /// <summary>
    /// Converts a verified file to the store's one format (safetensors in our layout) at
    /// <paramref name="target"/> and writes its receipt: the stored file's SHA-256, and the
    /// source's URL, layout and SHA-256. A file already in that format is moved as it is.
    /// </summary>
    private async Task PlaceAsync(ModelEntry entry, string downloaded, string target, string source, FileCheck check, CancellationToken ct)
    {
        // Always rewritten, even from safetensors: what is stored holds exactly our keys, nothing the source added.
        var converted = target + ".converting";
        try
        {
            await Task.Run(() => LayoutConversion.WriteOurs(downloaded, converted, allowTorchScript: check.ChecksumVerified), ct).ConfigureAwait(false);
            File.Move(converted, target, overwrite: true);
        }
        finally
        {
            File.Delete(converted);
        }
        if (!string.Equals(downloaded, target, StringComparison.Ordinal))
            File.Delete(downloaded);
        var stored = await FileHash.Sha256Async(target, ct).ConfigureAwait(false);
        new StoreReceipt(entry.Id, entry.File, new FileInfo(target).Length, stored, source, check.Result.Method, DateTimeOffset.UtcNow,
            SourceSha256: check.Result.Sha256, SourceLayout: CheckpointLayouts.Name(check.Layout)).Write(target);
    }

    /// <summary>
    /// Checks the model's file: against the SHA-256 its receipt recorded, else (a file placed by
    /// hand) by a published checksum or its tensors against the manifest, in any supported
    /// layout; such a file is then converted to the store's format and given a receipt.
    /// </summary>
    public async Task<VerifyResult> VerifyAsync(string modelId, CancellationToken ct)
    {
        var entry = Catalog.Get(modelId);
        var path = PathFor(entry);
        if (!File.Exists(path))
            return Missing(entry, path);
        System.IO.Directory.CreateDirectory(Directory);
        using var held = await ModelLock.AcquireAsync(LockPath(entry), _options.LockPollInterval,
            () => _options.Log?.Invoke($"{entry.Id}: a pull of this model is running; waiting for it before verifying"), ct).ConfigureAwait(false);
        return await VerifyLockedAsync(entry, path, ct).ConfigureAwait(false);
    }

    /// <summary>What a file anywhere is: which catalog model (if any) it passes as, in which layout. Nothing is written.</summary>
    public async Task<IReadOnlyList<VerifyResult>> IdentifyFileAsync(string file, CancellationToken ct)
    {
        var results = new List<VerifyResult>();
        foreach (var entry in Catalog.Models)
            results.Add((await _checker.CheckAsync(entry, null, Path.GetFullPath(file), ct).ConfigureAwait(false)).Result);
        return results;
    }

    private async Task<VerifyResult> VerifyLockedAsync(ModelEntry entry, string path, CancellationToken ct)
    {
        if (!File.Exists(path))
            return Missing(entry, path);
        var receipt = StoreReceipt.TryRead(path);
        if (receipt is not null && receipt.ModelId.Equals(entry.Id, StringComparison.OrdinalIgnoreCase))
        {
            var sha = await FileHash.Sha256Async(path, ct).ConfigureAwait(false);
            const string method = "SHA-256 recorded when the file was placed";
            var origin = receipt.SourceLayout is null ? "" : $"; from {receipt.Source} ({receipt.SourceLayout}, SHA-256 {receipt.SourceSha256})";
            return sha == receipt.Sha256
                ? new VerifyResult(entry.Id, path, VerifyStatus.Ok, sha, method, $"SHA-256 {sha} matches the one recorded on {receipt.RecordedAt:yyyy-MM-dd}{origin}")
                : new VerifyResult(entry.Id, path, VerifyStatus.ChecksumMismatch, sha, method,
                    $"SHA-256 is {sha} but {receipt.RecordedAt:yyyy-MM-dd HH:mm}Z recorded {receipt.Sha256}: the file changed since it was verified (damaged?). " +
                    $"Delete it and run `FuseDream.Worker models pull {entry.Id}`");
        }

        var check = await _checker.CheckAsync(entry, null, path, ct).ConfigureAwait(false);
        if (!check.Result.IsValid)
            return check.Result;
        // Placed by hand: convert it to the store's format and remember what was verified, so later checks are quick and catch corruption.
        try
        {
            await PlaceAsync(entry, path, path, receipt?.Source ?? "placed by hand", check, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is InvalidDataException or NotSupportedException or ArgumentException or KeyNotFoundException or ClipStateDictException)
        {
            return check.Result with { Status = VerifyStatus.Unreadable, Message = $"{check.Result.Message}; but it could not be converted to the store's format: {e.Message}" };
        }
        var placed = StoreReceipt.TryRead(path)!;
        return check.Result with
        {
            Sha256 = placed.Sha256,
            Message = $"{check.Result.Message}; stored as safetensors in our layout (SHA-256 {placed.Sha256})",
        };
    }

    /// <summary>
    /// A candidate that turned out to be another model (the Drive ids are unlabeled) is kept as
    /// that model when it is not present yet, so the download is not wasted.
    /// </summary>
    private async Task<string?> TryAdoptAsync(ModelEntry entry, string partial, string url, FileCheck check, CancellationToken ct)
    {
        var otherId = _checker.IdentifyOther(entry, check.Shapes!);
        if (otherId is null)
            return null;
        var other = Catalog.Get(otherId);
        using var otherLock = ModelLock.TryAcquire(LockPath(other));
        var otherPath = PathFor(other);
        if (otherLock is null || File.Exists(otherPath))
            return null;
        var otherCheck = await _checker.CheckAsync(other, null, partial, ct).ConfigureAwait(false);
        if (!otherCheck.Result.IsValid)
            return null;
        await PlaceAsync(other, partial, otherPath, url, otherCheck, ct).ConfigureAwait(false);
        _options.Log?.Invoke($"{entry.Id}: {url} holds '{other.Id}'; placed it at {otherPath}");
        return other.Id;
    }

    private static VerifyResult Missing(ModelEntry entry, string path) =>
        new(entry.Id, path, VerifyStatus.Missing, null, "none",
            $"not present; run `FuseDream.Worker models pull {entry.Id}` or place the file by hand at {path}");

    private string PathFor(ModelEntry entry) => Path.Combine(Directory, entry.File);

    private string LockPath(ModelEntry entry) => Path.Combine(Directory, entry.Id + ".lock");

    /// <summary>One partial file per source: candidates may be different files, so bytes from one must never resume another.</summary>
    private string PartialPath(ModelEntry entry, string url)
    {
        var tag = Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(url)))[..12];
        return Path.Combine(Directory, $"{entry.File}.{tag}{PartialSuffix}");
    }

    private void DeletePartials(ModelEntry entry)
    {
        foreach (var stale in System.IO.Directory.EnumerateFiles(Directory, entry.File + ".*" + PartialSuffix + "*"))
            File.Delete(stale);
    }
}
