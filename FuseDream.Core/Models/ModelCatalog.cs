using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace FuseDream.Models;

/// <summary>
/// The models this program knows how to fetch: where from, how big, how to check them.
/// The built-in catalog is an embedded JSON resource; a file given by
/// <c>FUSEDREAM_MODEL_CATALOG</c> (or <c>--catalog</c>) replaces it, e.g. to add a mirror.
/// </summary>
public sealed class ModelCatalog
{
    public const string CatalogVariable = "FUSEDREAM_MODEL_CATALOG";
    private const string EmbeddedCatalog = "FuseDream.Models.catalog.json";
    private const string EmbeddedManifestPrefix = "FuseDream.Models.Manifests.";

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNameCaseInsensitive = true,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    private readonly Dictionary<string, ModelEntry> _byId;

    private ModelCatalog(IReadOnlyList<ModelEntry> models, string origin, string? baseDirectory)
    {
        Models = models;
        Origin = origin;
        BaseDirectory = baseDirectory;
        _byId = models.ToDictionary(m => m.Id, StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>Every model, in catalog order.</summary>
    public IReadOnlyList<ModelEntry> Models { get; }

    /// <summary>Where the catalog came from ("built-in" or the file path), for messages.</summary>
    public string Origin { get; }

    /// <summary>Folder that relative manifest paths are resolved against (null for the built-in catalog).</summary>
    public string? BaseDirectory { get; }

    /// <summary>The built-in catalog.</summary>
    public static ModelCatalog LoadEmbedded()
    {
        using var stream = OpenEmbedded(EmbeddedCatalog)
            ?? throw new InvalidOperationException($"The built-in model catalog resource '{EmbeddedCatalog}' is missing from {typeof(ModelCatalog).Assembly.GetName().Name}.");
        return Parse(stream, "built-in", null);
    }

    /// <summary>A catalog file in the same JSON shape as the built-in one.</summary>
    public static ModelCatalog LoadFile(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var full = Path.GetFullPath(path);
        if (!File.Exists(full))
            throw new FileNotFoundException($"Model catalog file not found: '{full}'. Fix the path given by --catalog or {CatalogVariable}.", full);
        using var stream = File.OpenRead(full);
        return Parse(stream, full, Path.GetDirectoryName(full));
    }

    /// <summary>The file named by <c>FUSEDREAM_MODEL_CATALOG</c> when set, else the built-in catalog.</summary>
    public static ModelCatalog LoadDefault(Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        var overridePath = environment(CatalogVariable);
        return string.IsNullOrWhiteSpace(overridePath) ? LoadEmbedded() : LoadFile(overridePath);
    }

    /// <summary>The entry for <paramref name="modelId"/>; the error lists the known ids.</summary>
    public ModelEntry Get(string modelId)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(modelId);
        if (_byId.TryGetValue(modelId, out var entry))
            return entry;
        throw new KeyNotFoundException(
            $"Unknown model '{modelId}'. Known models ({Origin} catalog): {string.Join(", ", Models.Select(m => m.Id))}.");
    }

    public bool Contains(string modelId) => _byId.ContainsKey(modelId);

    /// <summary>Loads the key/shape manifest an entry names (built-in name or a path relative to the catalog file).</summary>
    internal ModelManifest LoadManifest(ModelEntry entry)
    {
        var name = entry.Manifest
            ?? throw new InvalidOperationException($"Model '{entry.Id}' has no manifest in the {Origin} catalog, so it cannot be verified by loading.");
        if (name.EndsWith(".json", StringComparison.OrdinalIgnoreCase) || name.Contains('/') || name.Contains('\\'))
        {
            var path = Path.IsPathRooted(name) ? name : Path.Combine(BaseDirectory ?? Environment.CurrentDirectory, name);
            if (!File.Exists(path))
                throw new FileNotFoundException($"Manifest '{path}' named by model '{entry.Id}' in the {Origin} catalog does not exist.", path);
            using var file = File.OpenRead(path);
            return ModelManifest.Parse(file, path, entry.OptionalKeySuffixes);
        }
        using var stream = OpenEmbedded(EmbeddedManifestPrefix + name + ".json")
            ?? throw new InvalidOperationException(
                $"Model '{entry.Id}' names manifest '{name}', which is not built in. Built-in manifests: {string.Join(", ", EmbeddedManifestNames())}.");
        return ModelManifest.Parse(stream, name, entry.OptionalKeySuffixes);
    }

    internal static ModelCatalog Parse(Stream stream, string origin, string? baseDirectory)
    {
        CatalogDocument? document;
        try
        {
            document = JsonSerializer.Deserialize<CatalogDocument>(stream, Json);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"Model catalog {origin} is not valid JSON: {e.Message}", e);
        }
        if (document?.Models is not { Count: > 0 } models)
            throw new InvalidDataException($"Model catalog {origin} lists no models (expected {{ \"models\": [ ... ] }}).");

        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var m in models)
        {
            var where = $"model catalog {origin}, entry '{m.Id}'";
            if (string.IsNullOrWhiteSpace(m.Id))
                throw new InvalidDataException($"Model catalog {origin} has an entry without an \"id\".");
            if (!seen.Add(m.Id))
                throw new InvalidDataException($"Model catalog {origin} lists '{m.Id}' twice.");
            if (string.IsNullOrWhiteSpace(m.File) || m.File != Path.GetFileName(m.File) || m.File.StartsWith('.'))
                throw new InvalidDataException($"In {where}: \"file\" must be a plain file name such as 'biggan-256.pth', got '{m.File}'.");
            if (m.Sources is null || m.Sources.Count == 0)
                throw new InvalidDataException($"In {where}: \"sources\" must list at least one URL.");
            foreach (var source in m.Sources)
            {
                if (!Uri.TryCreate(source.Url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
                    throw new InvalidDataException($"In {where}: source '{source.Url}' is not an absolute http(s) URL.");
                if (source.Sha256 is not null && !IsHex(source.Sha256, 64))
                    throw new InvalidDataException($"In {where}: source '{source.Url}': \"sha256\" must be 64 hex digits, got '{source.Sha256}'.");
                if (source.Md5 is not null && !IsHex(source.Md5, 32))
                    throw new InvalidDataException($"In {where}: source '{source.Url}': \"md5\" must be 32 hex digits, got '{source.Md5}'.");
            }
            if (m.Sha256 is not null && !IsHex(m.Sha256, 64))
                throw new InvalidDataException($"In {where}: \"sha256\" must be 64 hex digits, got '{m.Sha256}'.");
            var unverifiable = m.Sources.Where(s => s.Sha256 is null && s.Md5 is null && m.Sha256 is null).ToList();
            if (unverifiable.Count > 0 && m.Manifest is null)
                throw new InvalidDataException(
                    $"In {where}: give \"sha256\" or \"manifest\" (or both), otherwise a download from {unverifiable[0].Url} cannot be checked.");
        }
        return new ModelCatalog(models.Select(Normalise).ToList(), origin, baseDirectory);
    }

    private static bool IsHex(string value, int length) => value.Length == length && value.All(Uri.IsHexDigit);

    /// <summary>
    /// An entry-level <c>sha256</c> (the catalog shape before sources had their own checks) applies
    /// to every source that names none; published checksums are stored lower-case.
    /// </summary>
    private static ModelEntry Normalise(ModelEntry m) => m with
    {
        Sha256 = m.Sha256?.ToLowerInvariant(),
        Sources = m.Sources.Select(s => s with
        {
            Sha256 = (s.Sha256 ?? (s.Md5 is null ? m.Sha256 : null))?.ToLowerInvariant(),
            Md5 = s.Md5?.ToLowerInvariant(),
            RedirectHosts = s.RedirectHosts ?? [],
        }).ToList(),
        Kind = m.Kind?.ToLowerInvariant() ?? "unknown",
        Name = string.IsNullOrWhiteSpace(m.Name) ? m.Id : m.Name,
        OptionalKeySuffixes = m.OptionalKeySuffixes ?? [],
        LegacyFiles = m.LegacyFiles ?? [],
    };

    private static Stream? OpenEmbedded(string name) =>
        typeof(ModelCatalog).Assembly.GetManifestResourceStream(name);

    private static IEnumerable<string> EmbeddedManifestNames() =>
        typeof(ModelCatalog).Assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(EmbeddedManifestPrefix, StringComparison.Ordinal))
            .Select(n => n[EmbeddedManifestPrefix.Length..^".json".Length]);

    private sealed class CatalogDocument
    {
        public int Version { get; set; }
        public List<ModelEntry>? Models { get; set; }
    }
}

/// <summary>One model of the catalog.</summary>
public sealed record ModelEntry
{
    /// <summary>Stable id used on the command line and in configuration, e.g. <c>biggan-256</c>.</summary>
    public required string Id { get; init; }
    /// <summary><c>clip</c> or <c>biggan</c>.</summary>
    public string Kind { get; init; } = "unknown";
    public string Name { get; init; } = "";
    /// <summary><c>torchscript</c>, <c>torch-save</c> or <c>safetensors</c> (informational; the reader detects it).</summary>
    public string? Format { get; init; }
    /// <summary>File name inside the store directory.</summary>
    public required string File { get; init; }
    public long? SizeBytes { get; init; }
    /// <summary>True when <see cref="SizeBytes"/> is an estimate (from the manifest), not a published byte count.</summary>
    public bool SizeIsEstimate { get; init; }
    /// <summary>Published SHA-256 (lower-case hex), when the publisher gives one.</summary>
    public string? Sha256 { get; init; }
    /// <summary>Key/shape manifest used to verify by loading: a built-in name or a path relative to the catalog file.</summary>
    public string? Manifest { get; init; }
    /// <summary>Manifest keys with these endings may be absent from the file (BigGAN's <c>.sv0</c> logging buffers).</summary>
    [JsonPropertyName("optionalKeySuffixes")]
    public IReadOnlyList<string> OptionalKeySuffixes { get; init; } = [];
    /// <summary>
    /// Names this model's file had in the store before the store kept safetensors (<c>ViT-B-32.pt</c>,
    /// <c>biggan-256.pth</c>): <c>pull</c> converts such a file instead of downloading again.
    /// </summary>
    public IReadOnlyList<string> LegacyFiles { get; init; } = [];

    /// <summary>Where to download it from, tried in order: a URL, or an object with the URL and what is known of the file there.</summary>
    public IReadOnlyList<ModelSource> Sources { get; init; } = [];

    /// <summary>Whether some source publishes a checksum that <paramref name="sha256"/> matches.</summary>
    public ModelSource? SourceWithSha256(string sha256) =>
        Sources.FirstOrDefault(s => string.Equals(s.Sha256, sha256, StringComparison.OrdinalIgnoreCase));
    [JsonPropertyName("licence")]
    public string? Licence { get; init; }
    public string? Notes { get; init; }
}

/// <summary>
/// One download location of a model. In the catalog either a plain URL string or an object:
/// <c>{ "url", "sha256"?, "md5"?, "layout"?, "sizeBytes"?, "redirectHosts"?, "note"? }</c>.
/// </summary>
[JsonConverter(typeof(ModelSourceJsonConverter))]
public sealed record ModelSource
{
    public required string Url { get; init; }
    /// <summary>SHA-256 the publisher gives for this file (OpenAI's is in the URL).</summary>
    public string? Sha256 { get; init; }
    /// <summary>MD5 the publisher gives for this file, when that is all there is.</summary>
    public string? Md5 { get; init; }
    /// <summary>The layout the file is expected in (informational: the loader detects it), e.g. <c>clip-transformers</c>.</summary>
    public string? Layout { get; init; }
    /// <summary>Size of this file when it differs from the model's (an fp32 copy of fp16 weights); bounds the download.</summary>
    public long? SizeBytes { get; init; }
    /// <summary>
    /// Hosts this source may redirect to besides its own domain (Hugging Face's <c>resolve</c> URLs
    /// answer with a CDN host). <c>*.example.org</c> allows every subdomain.
    /// </summary>
    public IReadOnlyList<string>? RedirectHosts { get; init; }
    public string? Note { get; init; }

    /// <summary>Whether the file can be checked against a published digest rather than by loading it.</summary>
    public bool HasPublishedChecksum => Sha256 is not null || Md5 is not null;

    public override string ToString() => Url;
}

internal sealed class ModelSourceJsonConverter : JsonConverter<ModelSource>
{
    public override ModelSource Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.String)
            return new ModelSource { Url = reader.GetString()! };
        if (reader.TokenType != JsonTokenType.StartObject)
            throw new JsonException("a source is a URL string or an object with \"url\".");
        using var document = JsonDocument.ParseValue(ref reader);
        var root = document.RootElement;
        string? Text(string name) =>
            root.EnumerateObject().FirstOrDefault(p => p.Name.Equals(name, StringComparison.OrdinalIgnoreCase)) is { Value.ValueKind: JsonValueKind.String } p
                ? p.Value.GetString() : null;
        JsonElement? Element(string name) =>
            root.EnumerateObject().Where(p => p.Name.Equals(name, StringComparison.OrdinalIgnoreCase)).Select(p => (JsonElement?)p.Value).FirstOrDefault();
        var url = Text("url") ?? throw new JsonException("a source object needs \"url\".");
        return new ModelSource
        {
            Url = url,
            Sha256 = Text("sha256"),
            Md5 = Text("md5"),
            Layout = Text("layout"),
            SizeBytes = Element("sizeBytes") is { ValueKind: JsonValueKind.Number } size ? size.GetInt64() : null,
            RedirectHosts = Element("redirectHosts") is { ValueKind: JsonValueKind.Array } hosts
                ? hosts.EnumerateArray().Select(h => h.GetString() ?? "").Where(h => h.Length > 0).ToList()
                : null,
            Note = Text("note"),
        };
    }

    public override void Write(Utf8JsonWriter writer, ModelSource value, JsonSerializerOptions options)
    {
        writer.WriteStartObject();
        writer.WriteString("url", value.Url);
        if (value.Sha256 is not null) writer.WriteString("sha256", value.Sha256);
        if (value.Md5 is not null) writer.WriteString("md5", value.Md5);
        if (value.Layout is not null) writer.WriteString("layout", value.Layout);
        if (value.SizeBytes is long size) writer.WriteNumber("sizeBytes", size);
        if (value.RedirectHosts is { Count: > 0 } hosts)
        {
            writer.WriteStartArray("redirectHosts");
            foreach (var host in hosts) writer.WriteStringValue(host);
            writer.WriteEndArray();
        }
        if (value.Note is not null) writer.WriteString("note", value.Note);
        writer.WriteEndObject();
    }
}
