using System.Security.Cryptography;
using System.Text.Json;
using FuseDream.Checkpoints;
using FuseDream.Models;
using FuseDream.Tests.Support;

namespace FuseDream.Tests.Models;

/// <summary>A temporary store directory plus a test catalog file, removed at the end of the test.</summary>
public sealed class TempModelStore : IDisposable
{
    public TempModelStore()
    {
        Root = Path.Combine(Path.GetTempPath(), "fusedream-models-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Root);
    }

    public string Root { get; }
    public string StoreDirectory => Path.Combine(Root, "store");
    public string CatalogPath => Path.Combine(Root, "catalog.json");
    public List<string> Log { get; } = [];

    /// <summary>
    /// Short delays so retries and lock waits do not slow the suite. The fixture server is plain
    /// HTTP on loopback, so HTTP is allowed; redirects to other hosts are still checked.
    /// </summary>
    public ModelStoreOptions FastOptions(int attempts = 3) => new()
    {
        AllowInsecureHttp = true,
        MaxAttemptsPerSource = attempts,
        InitialRetryDelay = TimeSpan.FromMilliseconds(10),
        MaxRetryDelay = TimeSpan.FromMilliseconds(40),
        StallTimeout = TimeSpan.FromSeconds(20),
        ProgressInterval = TimeSpan.Zero,
        LockPollInterval = TimeSpan.FromMilliseconds(20),
        Log = message => { lock (Log) Log.Add(message); },
    };

    /// <summary>Writes the catalog file (entries as the JSON shape of the built-in catalog).</summary>
    public void WriteCatalog(params object[] models) =>
        File.WriteAllText(CatalogPath, JsonSerializer.Serialize(new { version = 1, models }, new JsonSerializerOptions { WriteIndented = true }));

    public ModelStore Open(int attempts = 3) => new(StoreDirectory, ModelCatalog.LoadFile(CatalogPath), FastOptions(attempts));

    /// <summary>Files left in the store other than placed models and their receipts/locks (partials, temp files).</summary>
    public IReadOnlyList<string> Leftovers() => !Directory.Exists(StoreDirectory)
        ? []
        : Directory.EnumerateFiles(StoreDirectory)
            .Select(Path.GetFileName)
            .Where(n => n!.EndsWith(".partial", StringComparison.Ordinal) || n.EndsWith(".tmp", StringComparison.Ordinal))
            .Select(n => n!)
            .ToList();

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // best effort: a temp folder left behind does not fail a test
        }
    }
}

/// <summary>The tiny checkpoints of the fixture sets, as bytes and as key/shape manifests.</summary>
public static class TinyCheckpoints
{
    public static string ClipJitPath => Path.Combine(FixtureSets.Root, "clip", "clip_tiny_jit.pt");
    public static string G256Path => Path.Combine(FixtureSets.Root, "biggan", "G256_tiny.pth");
    public static string G512Path => Path.Combine(FixtureSets.Root, "biggan", "G512_tiny.pth");
    public static string ClipOpenClipPath => Path.Combine(FixtureSets.Root, "clip", "layouts", "open_clip_model.safetensors");
    public static string ClipTransformersPath => Path.Combine(FixtureSets.Root, "clip", "layouts", "hf_model.safetensors");
    public static string G256V1Path => Path.Combine(FixtureSets.Root, "biggan", "layouts", "G256_tiny_v1.pth");

    /// <summary>A manifest of the checkpoint's tensors mapped to our layout (what the store compares every layout against).</summary>
    public static string WriteManifestOfOurLayout(string directory, string name, string checkpointPath)
    {
        var tensors = CheckpointReader.ReadTensors(checkpointPath);
        var ours = LayoutConversion.ToOurs(tensors, out _);
        try
        {
            var entries = ours.Select(kv => new { key = kv.Key, shape = kv.Value.shape }).ToList();
            var path = Path.Combine(directory, name + ".json");
            File.WriteAllText(path, JsonSerializer.Serialize(new { model = name, state_dict = entries }));
            return path;
        }
        finally
        {
            foreach (var t in tensors.Values.Concat(ours.Values))
                t.Dispose();
        }
    }

    public static string Sha256(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    /// <summary>
    /// The store keeps what it downloaded as safetensors in our layout: <paramref name="stored"/> must
    /// be that, holding exactly the tensors of <paramref name="source"/> mapped to our layout, with a
    /// receipt naming both SHA-256s.
    /// </summary>
    public static void AssertStoredFrom(byte[] source, string stored)
    {
        Assert.Equal(CheckpointFormat.Safetensors, CheckpointReader.DetectFormat(stored));
        var receipt = StoreReceipt.TryRead(stored);
        Assert.NotNull(receipt);
        Assert.Equal(Sha256(source), receipt.SourceSha256);
        Assert.Equal(Sha256(stored), receipt.Sha256);
        Assert.Equal(new FileInfo(stored).Length, receipt.Bytes);
        var temp = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(temp, source);
            var original = CheckpointReader.ReadTensors(temp);
            var expected = LayoutConversion.ToOurs(original, out var layout);
            var actual = CheckpointReader.ReadTensors(stored);
            try
            {
                Assert.Equal(CheckpointLayouts.Name(layout), receipt.SourceLayout);
                Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), actual.Keys.Order(StringComparer.Ordinal));
                foreach (var (key, value) in expected)
                {
                    Assert.Equal(value.dtype, actual[key].dtype);
                    Assert.True(value.eq(actual[key]).all().item<bool>(), $"'{key}' differs in the stored file");
                }
            }
            finally
            {
                foreach (var t in original.Values.Concat(expected.Values).Concat(actual.Values)) t.Dispose();
            }
        }
        finally
        {
            File.Delete(temp);
        }
    }

    public static string Sha256(string path) => Sha256(File.ReadAllBytes(path));

    /// <summary>
    /// Writes a manifest in the same JSON shape as the full-size ones (<c>state_dict: [{key, shape}]</c>)
    /// from a tiny checkpoint, so the tiny models stand in for the real ones in catalog tests.
    /// </summary>
    public static string WriteManifest(string directory, string name, string checkpointPath)
    {
        var tensors = CheckpointReader.ReadTensors(checkpointPath);
        try
        {
            var entries = tensors.Select(kv => new { key = kv.Key, shape = kv.Value.shape }).ToList();
            var path = Path.Combine(directory, name + ".json");
            File.WriteAllText(path, JsonSerializer.Serialize(new { model = name, state_dict = entries }));
            return path;
        }
        finally
        {
            foreach (var t in tensors.Values)
                t.Dispose();
        }
    }
}
