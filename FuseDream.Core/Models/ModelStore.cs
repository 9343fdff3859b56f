using System.Security.Cryptography;
using FuseDream.Checkpoints;

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

        var failures = new List<SourceFailure>();
        foreach (var url in entry.Sources)
        {
            var partial = PartialPath(entry, url);
            try
            {
                await _downloader.DownloadAsync(entry.Id, url, partial, progress, ct).ConfigureAwait(false);
            }
            catch (DownloadFailure failure)
            {
                failures.Add(new SourceFailure(url, failure.Message));
                _options.Log?.Invoke($"{entry.Id}: {url} failed: {failure.Message}");
                continue;
            }

            var check = await _checker.CheckAsync(entry, partial, ct).ConfigureAwait(false);
            if (!check.Result.IsValid)
            {
                var adopted = check.Shapes is not null ? await TryAdoptAsync(entry, partial, url, check.Shapes, ct).ConfigureAwait(false) : null;
                if (adopted is null)
                    File.Delete(partial);
                var error = check.Result.Message + (adopted is null ? "" : $"; kept it as '{adopted}'");
                failures.Add(new SourceFailure(url, error));
                _options.Log?.Invoke($"{entry.Id}: {url} rejected: {error}");
                continue;
            }

            File.Move(partial, target, overwrite: true);
            new StoreReceipt(entry.Id, entry.File, new FileInfo(target).Length, check.Result.Sha256!, url, check.Result.Method, DateTimeOffset.UtcNow)
                .Write(target);
            DeletePartials(entry);
            _options.Log?.Invoke($"{entry.Id}: placed {target} ({check.Result.Method})");
            return target;
        }
        throw new ModelPullException(entry, target, failures);
    }

    /// <summary>Checks the model's file: published SHA-256, else the SHA-256 recorded when placed, else by loading it against the manifest (and records the SHA-256 then).</summary>
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

    private async Task<VerifyResult> VerifyLockedAsync(ModelEntry entry, string path, CancellationToken ct)
    {
        if (!File.Exists(path))
            return Missing(entry, path);
        var receipt = StoreReceipt.TryRead(path);
        if (entry.Sha256 is null && receipt is not null && receipt.ModelId.Equals(entry.Id, StringComparison.OrdinalIgnoreCase))
        {
            var sha = await FileHash.Sha256Async(path, ct).ConfigureAwait(false);
            const string method = "SHA-256 recorded when the file was placed";
            return sha == receipt.Sha256
                ? new VerifyResult(entry.Id, path, VerifyStatus.Ok, sha, method, $"SHA-256 {sha} matches the one recorded on {receipt.RecordedAt:yyyy-MM-dd}")
                : new VerifyResult(entry.Id, path, VerifyStatus.ChecksumMismatch, sha, method,
                    $"SHA-256 is {sha} but {receipt.RecordedAt:yyyy-MM-dd HH:mm}Z recorded {receipt.Sha256}: the file changed since it was verified (damaged?). " +
                    $"Delete it and run `FuseDream.Worker models pull {entry.Id}`");
        }

        var check = await _checker.CheckAsync(entry, path, ct).ConfigureAwait(false);
        if (check.Result.IsValid && (receipt is null || receipt.Sha256 != check.Result.Sha256))
        {
            // Placed by hand (or re-placed): remember what was verified so later checks are quick and catch corruption.
            new StoreReceipt(entry.Id, entry.File, new FileInfo(path).Length, check.Result.Sha256!, receipt?.Source ?? "placed by hand",
                check.Result.Method, DateTimeOffset.UtcNow).Write(path);
        }
        return check.Result;
    }

    /// <summary>
    /// A candidate that turned out to be another model (the Drive ids are unlabeled) is kept as
    /// that model when it is not present yet, so the download is not wasted.
    /// </summary>
    private Task<string?> TryAdoptAsync(ModelEntry entry, string partial, string url, IReadOnlyDictionary<string, long[]> shapes, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        var otherId = _checker.IdentifyOther(entry, shapes);
        if (otherId is null)
            return Task.FromResult<string?>(null);
        var other = Catalog.Get(otherId);
        using var otherLock = ModelLock.TryAcquire(LockPath(other));
        var otherPath = PathFor(other);
        if (otherLock is null || File.Exists(otherPath))
            return Task.FromResult<string?>(null);
        var sha = FileHash.Sha256(partial);
        File.Move(partial, otherPath);
        new StoreReceipt(other.Id, other.File, new FileInfo(otherPath).Length, sha, url, "loading it (tensor names and shapes)", DateTimeOffset.UtcNow)
            .Write(otherPath);
        _options.Log?.Invoke($"{entry.Id}: {url} holds '{other.Id}'; placed it at {otherPath}");
        return Task.FromResult<string?>(other.Id);
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
        foreach (var stale in System.IO.Directory.EnumerateFiles(Directory, entry.File + ".*" + PartialSuffix))
            File.Delete(stale);
    }
}
