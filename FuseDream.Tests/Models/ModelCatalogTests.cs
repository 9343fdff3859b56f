using FuseDream.Models;

namespace FuseDream.Tests.Models;

public sealed class ModelCatalogTests : IDisposable
{
    private readonly TempModelStore _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void BuiltInCatalog_ListsTheFiveModels_WithSourcesAndAWayToVerifyEach()
    {
        var catalog = ModelCatalog.LoadEmbedded();

        Assert.Equal(["clip-vit-b-32", "clip-vit-b-16", "clip-vit-l-14", "biggan-256", "biggan-512"], catalog.Models.Select(m => m.Id));
        foreach (var m in catalog.Models)
        {
            Assert.NotEmpty(m.Sources);
            Assert.False(string.IsNullOrWhiteSpace(m.Licence), m.Id);
            Assert.NotNull(m.Manifest);
        }
    }

    [Theory]
    [InlineData("clip-vit-b-32", "vit_base_patch32_clip_224", "clip-vit-base-patch32", "ViT-B-32")]
    [InlineData("clip-vit-b-16", "vit_base_patch16_clip_224", "clip-vit-base-patch16", "ViT-B-16")]
    [InlineData("clip-vit-l-14", "vit_large_patch14_clip_224", "clip-vit-large-patch14", "ViT-L-14")]
    public void BuiltInClip_TriesTheHubCopiesFirst_ThenOpenAiWithTheSha256OfItsUrl(string id, string timm, string transformers, string name)
    {
        var entry = ModelCatalog.LoadEmbedded().Get(id);

        Assert.Equal($"{name}.safetensors", entry.File);
        Assert.Equal(
        [
            $"https://huggingface.co/timm/{timm}.openai/resolve/main/open_clip_model.safetensors",
            $"https://huggingface.co/timm/{timm}.openai/resolve/main/open_clip_pytorch_model.bin",
            $"https://huggingface.co/openai/{transformers}/resolve/main/model.safetensors",
        ], entry.Sources.Take(3).Select(s => s.Url));
        Assert.Equal(["clip-openai", "clip-openai", "clip-transformers"], entry.Sources.Take(3).Select(s => s.Layout));
        Assert.All(entry.Sources.Take(3), s =>
        {
            Assert.Null(s.Sha256);
            Assert.Contains("*.hf.co", s.RedirectHosts!);
        });
        var openai = entry.Sources.Skip(3).ToList();
        Assert.Equal(["openaipublic.azureedge.net", "openaipublic.blob.core.windows.net"], openai.Select(s => new Uri(s.Url).Host));
        Assert.All(openai, s =>
        {
            var segments = new Uri(s.Url).AbsolutePath.Split('/');
            Assert.Equal($"{name}.pt", segments[^1]);
            Assert.Equal(segments[^2], s.Sha256);
        });
        Assert.NotNull(entry.Manifest);
    }

    [Fact]
    public void BuiltInBigGan_ListsBothDriveIdsFirst_ThenTheV1Mirrors()
    {
        var catalog = ModelCatalog.LoadEmbedded();
        foreach (var id in new[] { "biggan-256", "biggan-512" })
        {
            var entry = catalog.Get(id);
            Assert.All(entry.Sources, s => Assert.Null(s.Sha256));
            Assert.Equal(["drive.google.com", "drive.google.com"], entry.Sources.Take(2).Select(s => new Uri(s.Url).Host));
            Assert.Contains(entry.Sources, s => s.Url.Contains("id=17ymX6rhsgHDZw_g5XgAFW4xLSDocARCM", StringComparison.Ordinal));
            Assert.Contains(entry.Sources, s => s.Url.Contains("id=1sOZ9og9kJLsqMNhaDnPJgzVsBZQ1sjZ5", StringComparison.Ordinal));
            Assert.Equal($"http://ganalyze.csail.mit.edu/models/{id}.pth", entry.Sources[2].Url);
            Assert.Equal("biggan-v1", entry.Sources[2].Layout);
            Assert.Equal([".sv0"], entry.OptionalKeySuffixes);
        }
        var net2net = catalog.Get("biggan-256").Sources[3];
        Assert.Equal("https://heibox.uni-heidelberg.de/f/437b501944874bcc92a4/?dl=1", net2net.Url);
        Assert.Equal("e23db3caa34ac4c4ae922a75258dcb8d", net2net.Md5);
        Assert.Equal(3, catalog.Get("biggan-512").Sources.Count);
    }

    [Theory]
    [InlineData("clip-vit-b-32", 302, "visual.conv1.weight", new long[] { 768, 3, 32, 32 })]
    [InlineData("clip-vit-b-16", 302, "visual.conv1.weight", new long[] { 768, 3, 16, 16 })]
    [InlineData("clip-vit-l-14", 446, "visual.conv1.weight", new long[] { 1024, 3, 14, 14 })]
    [InlineData("biggan-256", 194, "linear.weight", new long[] { 24576, 20 })]
    [InlineData("biggan-512", 222, "linear.weight", new long[] { 24576, 16 })]
    public void BuiltInManifests_AreEmbedded_WithTheReleasedShapes(string id, int tensors, string key, long[] shape)
    {
        var catalog = ModelCatalog.LoadEmbedded();

        var manifest = catalog.LoadManifest(catalog.Get(id));

        Assert.Equal(tensors, manifest.Shapes.Count);
        Assert.Equal(shape, manifest.Shapes[key]);
    }

    [Fact]
    public void BigGanManifests_TellTheResolutionsApart()
    {
        var catalog = ModelCatalog.LoadEmbedded();
        var m256 = catalog.LoadManifest(catalog.Get("biggan-256"));
        var m512 = catalog.LoadManifest(catalog.Get("biggan-512"));
        // A released 512 file (no sv0 buffers) checked against the 256 manifest, and the other way round.
        var released512 = m512.Shapes.Where(kv => !kv.Key.EndsWith(".sv0", StringComparison.Ordinal)).ToDictionary();
        var released256 = m256.Shapes.Where(kv => !kv.Key.EndsWith(".sv0", StringComparison.Ordinal)).ToDictionary();

        Assert.True(m256.Check(released256).Matches);
        Assert.True(m512.Check(released512).Matches);
        Assert.False(m256.Check(released512).Matches);
        Assert.False(m512.Check(released256).Matches);
    }

    [Fact]
    public void Get_UnknownId_ListsKnownIds()
    {
        var error = Assert.Throws<KeyNotFoundException>(() => ModelCatalog.LoadEmbedded().Get("biggan-1024"));

        Assert.Contains("biggan-1024", error.Message);
        Assert.Contains("biggan-256, biggan-512", error.Message);
    }

    [Fact]
    public void LoadDefault_UsesTheFileNamedByTheEnvironment()
    {
        _temp.WriteCatalog(new { id = "only", kind = "clip", file = "only.pt", sha256 = new string('0', 64), sources = new[] { "https://example.org/only.pt" } });

        var catalog = ModelCatalog.LoadDefault(name => name == ModelCatalog.CatalogVariable ? _temp.CatalogPath : null);

        Assert.Equal(["only"], catalog.Models.Select(m => m.Id));
        Assert.Equal(_temp.CatalogPath, catalog.Origin);
        Assert.Equal(5, ModelCatalog.LoadDefault(_ => null).Models.Count);
    }

    [Theory]
    [InlineData("""{ "models": [ { "id": "a", "file": "a.pt", "sha256": "00", "sources": ["https://x/a.pt"] } ] }""", "64 hex digits")]
    [InlineData("""{ "models": [ { "id": "a", "file": "../a.pt", "manifest": "m", "sources": ["https://x/a.pt"] } ] }""", "plain file name")]
    [InlineData("""{ "models": [ { "id": "a", "file": "a.pt", "manifest": "m", "sources": ["ftp://x/a.pt"] } ] }""", "http(s) URL")]
    [InlineData("""{ "models": [ { "id": "a", "file": "a.pt", "sources": ["https://x/a.pt"] } ] }""", "\"sha256\" or \"manifest\"")]
    [InlineData("""{ "models": [ { "id": "a", "file": "a.pt", "manifest": "m", "sources": [] } ] }""", "at least one URL")]
    [InlineData("""{ "models": [] }""", "lists no models")]
    [InlineData("""{ "models": [ """, "not valid JSON")]
    public void LoadFile_RejectsBadCatalogs_SayingWhatIsWrong(string json, string expected)
    {
        File.WriteAllText(_temp.CatalogPath, json);

        var error = Assert.Throws<InvalidDataException>(() => ModelCatalog.LoadFile(_temp.CatalogPath));

        Assert.Contains(expected, error.Message);
        Assert.Contains(_temp.CatalogPath, error.Message);
    }

    [Fact]
    public void LoadFile_MissingFile_NamesTheVariable()
    {
        var error = Assert.Throws<FileNotFoundException>(() => ModelCatalog.LoadFile(Path.Combine(_temp.Root, "nope.json")));

        Assert.Contains(ModelCatalog.CatalogVariable, error.Message);
    }
}
