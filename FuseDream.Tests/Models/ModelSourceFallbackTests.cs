using FuseDream.Checkpoints;
using FuseDream.Models;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace FuseDream.Tests.Models;

/// <summary>
/// The catalog's real source shapes, served over loopback HTTP with the tiny fixtures in the
/// layouts those sources publish: Hugging Face <c>resolve/main/…</c> URLs that redirect to a CDN
/// host, OpenAI's dead first URL, Google Drive's confirmation and quota pages, the v1-layout
/// mirrors. Checks the order sources are tried in, the fallbacks, the refusals and the messages.
/// </summary>
public sealed class ModelSourceFallbackTests : IDisposable
{
    private readonly TempModelStore _temp = new();
    private static readonly byte[] OpenClip = File.ReadAllBytes(TinyCheckpoints.ClipOpenClipPath);
    private static readonly byte[] Transformers = File.ReadAllBytes(TinyCheckpoints.ClipTransformersPath);
    private static readonly byte[] ClipArchive = File.ReadAllBytes(TinyCheckpoints.ClipJitPath);
    private static readonly byte[] G256 = File.ReadAllBytes(TinyCheckpoints.G256Path);
    private static readonly byte[] G256V1 = File.ReadAllBytes(TinyCheckpoints.G256V1Path);

    public void Dispose() => _temp.Dispose();

    private const string Timm = "/timm/vit_tiny_clip.openai/resolve/main/";
    private const string OpenAiHub = "/openai/clip-vit-tiny/resolve/main/model.safetensors";

    private void WriteClipCatalog(params object[] sources)
    {
        TinyCheckpoints.WriteManifestOfOurLayout(_temp.Root, "tiny_clip", TinyCheckpoints.ClipOpenClipPath);
        _temp.WriteCatalog(new { id = "clip-tiny", kind = "clip", name = "tiny CLIP", file = "clip-tiny.safetensors", sizeBytes = OpenClip.Length, manifest = "tiny_clip.json", sources });
    }

    private void WriteBigGanCatalog(params object[] sources)
    {
        TinyCheckpoints.WriteManifest(_temp.Root, "tiny_256", TinyCheckpoints.G256Path);
        _temp.WriteCatalog(new
        {
            id = "biggan-256", kind = "biggan", name = "tiny BigGAN-256", file = "biggan-256.safetensors", sizeBytes = G256V1.Length,
            manifest = "tiny_256.json", optionalKeySuffixes = new[] { ".sv0" }, sources,
        });
    }

    /// <summary>Hugging Face's resolve URL: 302 to a CDN host (here the same server as <c>localhost</c>) that serves the bytes.</summary>
    private static void MapHub(WebApplication app, FixtureFileServer? self, string path, byte[] bytes, Func<string> cdnBase)
    {
        app.MapGet(path, (HttpContext c) => Results.Redirect(cdnBase() + "cdn" + path));
        app.MapGet("/cdn" + path, (HttpContext c) => FixtureFileServer.ServeBytes(c, bytes));
    }

    [Fact]
    public async Task Clip_DeadHubFiles_FallBackToTheTransformersCopy_ThroughTheCdnRedirect_AndStoreOurLayout()
    {
        FixtureFileServer? server = null;
        await using var started = server = await FixtureFileServer.StartAsync(app =>
        {
            app.MapGet(Timm + "open_clip_model.safetensors", () => Results.NotFound());
            app.MapGet(Timm + "open_clip_pytorch_model.bin", () => Results.NotFound());
            MapHub((WebApplication)app, null, OpenAiHub, Transformers, () => server!.OtherHostUrl("/"));
        });
        WriteClipCatalog(
            new { url = server.Url(Timm + "open_clip_model.safetensors"), layout = "clip-openai", redirectHosts = new[] { "localhost" } },
            new { url = server.Url(Timm + "open_clip_pytorch_model.bin"), layout = "clip-openai", redirectHosts = new[] { "localhost" } },
            new { url = server.Url(OpenAiHub), layout = "clip-transformers", redirectHosts = new[] { "localhost" } });
        var store = _temp.Open();

        var path = await store.PullAsync("clip-tiny", null, CancellationToken.None);

        TinyCheckpoints.AssertStoredFrom(Transformers, path);
        var receipt = store.ReadReceipt("clip-tiny")!;
        Assert.Equal(("clip-transformers", server.Url(OpenAiHub)), (receipt.SourceLayout, receipt.Source));
        Assert.Equal(
            [Timm + "open_clip_model.safetensors", Timm + "open_clip_pytorch_model.bin", OpenAiHub, "/cdn" + OpenAiHub],
            server.Requests.Select(r => r.PathAndQuery));
        Assert.StartsWith("localhost:", server.Hosts.Last());
        var log = string.Join("\n", _temp.Log);
        Assert.Contains("trying source 1 of 3: " + server.Url(Timm + "open_clip_model.safetensors"), log);
        Assert.Contains($"failed: HTTP 404 Not Found; trying the next source ({server.Url(Timm + "open_clip_pytorch_model.bin")})", log);
        Assert.Contains("trying source 3 of 3", log);
        Assert.Contains("CLIP ViT in the Hugging Face transformers layout", log);
        // What is stored is the same model: it loads and has the transformers file's projection, transposed.
        using var model = ClipCheckpoint.Load(path);
        Assert.Equal(32, model.EmbedDim);
        Assert.True((await store.VerifyAsync("clip-tiny", CancellationToken.None)).IsValid);
    }

    [Fact]
    public async Task Clip_RedirectToAnUnlistedHost_IsRefused_AndTheNextSourceIsUsed()
    {
        FixtureFileServer? server = null;
        await using var started = server = await FixtureFileServer.StartAsync(app =>
        {
            MapHub((WebApplication)app, null, Timm + "open_clip_model.safetensors", OpenClip, () => server!.OtherHostUrl("/"));
            app.MapGet("/direct/open_clip_model.safetensors", (HttpContext c) => FixtureFileServer.ServeBytes(c, OpenClip));
        });
        WriteClipCatalog(server.Url(Timm + "open_clip_model.safetensors"), server.Url("/direct/open_clip_model.safetensors"));

        var path = await _temp.Open().PullAsync("clip-tiny", null, CancellationToken.None);

        TinyCheckpoints.AssertStoredFrom(OpenClip, path);
        Assert.Equal(0, server.Hits("/cdn" + Timm + "open_clip_model.safetensors"));
        Assert.Contains(_temp.Log, l => l.Contains("refused: a redirect leads to localhost, outside 127.0.0.1", StringComparison.Ordinal)
                                        && l.Contains("--allow-insecure", StringComparison.Ordinal));
    }

    [Fact]
    public async Task PlainHttpSource_IsRefusedUnlessAllowed_AndTheMessageSaysHow()
    {
        await using var server = await FixtureFileServer.StartAsync(app =>
            app.MapGet("/models/biggan-256.pth", (HttpContext c) => FixtureFileServer.ServeBytes(c, G256V1)));
        WriteBigGanCatalog(server.Url("/models/biggan-256.pth"));
        var strict = new ModelStore(_temp.StoreDirectory, ModelCatalog.LoadFile(_temp.CatalogPath), _temp.FastOptions() with { AllowInsecureHttp = false });

        var error = await Assert.ThrowsAsync<ModelPullException>(() => strict.PullAsync("biggan-256", null, CancellationToken.None));

        Assert.Equal(0, server.Hits("/models/biggan-256.pth"));
        Assert.Contains("refused: the source is plain HTTP", error.Message);
        Assert.Contains("pass --allow-insecure", error.Message);
        Assert.Contains("models verify biggan-256", error.Message);
    }

    [Fact]
    public async Task BigGan_DriveQuotaThenConfirmationThenV1Mirror_ConvertsTheMirrorsFile()
    {
        await using var server = await FixtureFileServer.StartAsync(app =>
        {
            app.MapGet("/quota/uc", () => Results.Content(
                "<html><head><title>Google Drive - Quota exceeded</title></head><body><p>Sorry, you can't view or download this file at this time.</p>" +
                "<p>Too many users have viewed or downloaded this file recently. Please try accessing the file again later.</p></body></html>", "text/html"));
            ModelStorePullTests.MapDrive(app, new() { ["OTHER"] = File.ReadAllBytes(TinyCheckpoints.G512Path) });
            app.MapGet("/models/biggan-256.pth", (HttpContext c) => FixtureFileServer.ServeBytes(c, G256V1));
        });
        var mirror = server.Url("/models/biggan-256.pth");
        WriteBigGanCatalog(server.Url("/quota/uc?export=download&id=GONE"), server.Url("/uc?export=download&id=OTHER"), new { url = mirror, layout = "biggan-v1" });
        var store = _temp.Open();

        var path = await store.PullAsync("biggan-256", null, CancellationToken.None);

        var receipt = store.ReadReceipt("biggan-256")!;
        Assert.Equal((mirror, "biggan-v1", TinyCheckpoints.Sha256(G256V1)), (receipt.Source, receipt.SourceLayout, receipt.SourceSha256));
        TinyCheckpoints.AssertStoredFrom(G256V1, path);
        // The conversion gives FuseDream's own file exactly (less the optional sv0 buffers).
        var stored = CheckpointReader.ReadTensors(path);
        var original = CheckpointReader.ReadTensors(TinyCheckpoints.G256Path);
        try
        {
            Assert.Equal(original.Keys.Where(k => !k.EndsWith(".sv0", StringComparison.Ordinal)).Order(), stored.Keys.Order());
            Assert.All(stored, kv => Assert.True(kv.Value.eq(original[kv.Key]).all().item<bool>(), kv.Key));
        }
        finally
        {
            foreach (var t in stored.Values.Concat(original.Values)) t.Dispose();
        }
        var log = string.Join("\n", _temp.Log);
        Assert.Contains($"Google Drive refused: quota exceeded for this file (\"Google Drive - Quota exceeded\"); try again later or use {server.Url("/uc?export=download&id=OTHER")}", log);
        Assert.Contains("asked to confirm the download", log);
        Assert.Contains("does not match manifest", log);
        Assert.Equal(1, server.Hits("/quota/uc")); // a quota page does not go away in seconds: not retried
        Assert.Empty(_temp.Leftovers());
    }

    [Fact]
    public async Task Md5PublishedForASource_RejectsOtherBytes_AndAcceptsTheRightOnes()
    {
        await using var server = await FixtureFileServer.StartAsync(app =>
        {
            app.MapGet("/f/wrong/", (HttpContext c) => FixtureFileServer.ServeBytes(c, G256V1[..^1].Append((byte)(G256V1[^1] ^ 1)).ToArray()));
            app.MapGet("/f/right/", (HttpContext c) => FixtureFileServer.ServeBytes(c, G256V1));
        });
        var md5 = Convert.ToHexStringLower(System.Security.Cryptography.MD5.HashData(G256V1));
        WriteBigGanCatalog(new { url = server.Url("/f/wrong/?dl=1"), md5 }, new { url = server.Url("/f/right/?dl=1"), md5 });

        var path = await _temp.Open().PullAsync("biggan-256", null, CancellationToken.None);

        TinyCheckpoints.AssertStoredFrom(G256V1, path);
        Assert.Contains(_temp.Log, l => l.Contains("rejected: MD5 is", StringComparison.Ordinal) && l.Contains($"the published checksum is {md5}", StringComparison.Ordinal));
        Assert.Contains("published MD5", _temp.Open().ReadReceipt("biggan-256")!.VerifiedBy);
    }

    [Fact]
    public async Task ADownloadLargerThanTheModelCanBe_IsCutOff()
    {
        var huge = new byte[OpenClip.Length * 2];
        await using var server = await FixtureFileServer.StartAsync(app =>
        {
            // Announces nothing: the cap must hold while streaming, not only against Content-Length.
            app.MapGet("/huge", async (HttpContext c) =>
            {
                c.Response.ContentType = "application/octet-stream";
                await c.Response.Body.WriteAsync(huge);
            });
            app.MapGet("/announced", (HttpContext c) => FixtureFileServer.ServeBytes(c, huge));
        });
        WriteClipCatalog(server.Url("/huge"), server.Url("/announced"));

        var error = await Assert.ThrowsAsync<ModelPullException>(() => _temp.Open().PullAsync("clip-tiny", null, CancellationToken.None));

        var cap = ModelFileChecker.MaxDownloadBytes(OpenClip.Length);
        Assert.Contains($"the server sent more than {cap} bytes", error.Message);
        Assert.Contains($"the server announces {huge.Length} bytes, more than this model can be ({cap} bytes at most)", error.Message);
        Assert.Empty(_temp.Leftovers());
    }

    [Fact]
    public async Task Resume_SendsIfRange_AndAFileThatChangedIsFetchedWhole_NotSpliced()
    {
        var requests = 0;
        await using var server = await FixtureFileServer.StartAsync(app =>
            app.MapGet("/open_clip_model.safetensors", (HttpContext c) =>
            {
                // First answer: version "a", cut mid-file. Then the file is replaced (version "b").
                var first = Interlocked.Increment(ref requests) == 1;
                c.Items["if-range"] = c.Request.Headers.IfRange.ToString();
                return FixtureFileServer.ServeBytes(c, OpenClip, abortAfter: first ? OpenClip.Length / 2 : null, etag: first ? "\"a\"" : "\"b\"");
            }));
        WriteClipCatalog(server.Url("/open_clip_model.safetensors"));

        var path = await _temp.Open().PullAsync("clip-tiny", null, CancellationToken.None);

        TinyCheckpoints.AssertStoredFrom(OpenClip, path);
        var seen = server.Requests.ToList();
        Assert.Equal(2, seen.Count);
        Assert.NotNull(seen[1].Range);
        Assert.Contains(_temp.Log, l => l.Contains("sent the whole file", StringComparison.Ordinal));
    }

    [Fact]
    public async Task EverySourceFailing_EndsWithWhatToDo_UrlsPathAndVerify()
    {
        await using var server = await FixtureFileServer.StartAsync(app =>
        {
            app.MapGet("/clip/models/{sha}/ViT-tiny.pt", () => Results.NotFound());
            app.MapGet(OpenAiHub, () => Results.StatusCode(403));
        });
        var sha = TinyCheckpoints.Sha256(ClipArchive);
        WriteClipCatalog(server.Url(OpenAiHub), new { url = server.Url($"/clip/models/{sha}/ViT-tiny.pt"), sha256 = sha });

        var error = await Assert.ThrowsAsync<ModelPullException>(() => _temp.Open().PullAsync("clip-tiny", null, CancellationToken.None));

        var lines = error.Message.Split(Environment.NewLine);
        Assert.Contains($"  1. {server.Url(OpenAiHub)}", lines);
        Assert.Contains("     -> HTTP 403 Forbidden", lines);
        Assert.Contains($"  - {server.Url($"/clip/models/{sha}/ViT-tiny.pt")} (SHA-256 {sha})", lines);
        Assert.Contains($"  {Path.Combine(_temp.StoreDirectory, "clip-tiny.safetensors")}", lines);
        Assert.Contains("`FuseDream.Worker models verify clip-tiny`", error.Message);
    }

    [Fact]
    public async Task AHandPlacedFile_InAnyLayout_IsVerifiedAndConvertedByVerify()
    {
        WriteClipCatalog("https://example.invalid/unused");
        var store = _temp.Open();
        Directory.CreateDirectory(_temp.StoreDirectory);
        var path = store.PathFor("clip-tiny");
        await File.WriteAllBytesAsync(path, Transformers);

        var result = await store.VerifyAsync("clip-tiny", CancellationToken.None);

        Assert.True(result.IsValid, result.Message);
        Assert.Contains("transformers layout", result.Message);
        TinyCheckpoints.AssertStoredFrom(Transformers, path);
        Assert.Equal("placed by hand", store.ReadReceipt("clip-tiny")!.Source);
    }

    [Fact]
    public async Task AFileUnderTheModelsEarlierName_IsConvertedByPull_WithoutADownload()
    {
        var sha = TinyCheckpoints.Sha256(ClipArchive);
        await using var server = await FixtureFileServer.StartAsync(app =>
            app.MapGet("/ViT-tiny.pt", (HttpContext c) => FixtureFileServer.ServeBytes(c, ClipArchive)));
        TinyCheckpoints.WriteManifestOfOurLayout(_temp.Root, "tiny_clip", TinyCheckpoints.ClipOpenClipPath);
        _temp.WriteCatalog(new
        {
            id = "clip-tiny", kind = "clip", file = "clip-tiny.safetensors", legacyFiles = new[] { "clip-tiny.pt" }, manifest = "tiny_clip.json",
            sources = new[] { new { url = server.Url("/ViT-tiny.pt"), sha256 = sha } },
        });
        var store = _temp.Open();
        Directory.CreateDirectory(_temp.StoreDirectory);
        var legacy = Path.Combine(_temp.StoreDirectory, "clip-tiny.pt");
        await File.WriteAllBytesAsync(legacy, ClipArchive);
        new StoreReceipt("clip-tiny", "clip-tiny.pt", ClipArchive.Length, sha, server.Url("/ViT-tiny.pt"), "published SHA-256", DateTimeOffset.UtcNow).Write(legacy);

        var path = await store.PullAsync("clip-tiny", null, CancellationToken.None);

        Assert.Equal(0, server.Hits("/ViT-tiny.pt"));
        TinyCheckpoints.AssertStoredFrom(ClipArchive, path);
        Assert.Equal(server.Url("/ViT-tiny.pt"), store.ReadReceipt("clip-tiny")!.Source);
        Assert.False(File.Exists(legacy));
        Assert.False(File.Exists(StoreReceipt.PathFor(legacy)));
    }

    [Fact]
    public async Task AHandPlacedFile_OfAModelWithOnlyAChecksum_MustMatchIt()
    {
        var sha = TinyCheckpoints.Sha256(ClipArchive);
        _temp.WriteCatalog(new { id = "clip-tiny", kind = "clip", file = "clip-tiny.safetensors", sha256 = sha, sources = new[] { "https://example.invalid/ViT.pt" } });
        var store = _temp.Open();
        Directory.CreateDirectory(_temp.StoreDirectory);
        await File.WriteAllBytesAsync(store.PathFor("clip-tiny"), OpenClip);

        var result = await store.VerifyAsync("clip-tiny", CancellationToken.None);

        Assert.Equal(VerifyStatus.ChecksumMismatch, result.Status);
        Assert.Contains($"the published checksum is {sha}", result.Message);
        Assert.Null(store.ReadReceipt("clip-tiny"));
    }

    [Fact]
    public async Task AnArchiveWithoutAMatchingPublishedSha256_IsNeverOpenedAsTorchScript()
    {
        WriteClipCatalog(new { url = "https://example.invalid/ViT.pt", sha256 = new string('0', 64) });
        var store = _temp.Open();
        Directory.CreateDirectory(_temp.StoreDirectory);
        await File.WriteAllBytesAsync(store.PathFor("clip-tiny"), ClipArchive);

        var result = await store.VerifyAsync("clip-tiny", CancellationToken.None);

        Assert.Equal(VerifyStatus.Unreadable, result.Status);
        Assert.Contains("TorchScript archive without a matching published SHA-256 is not opened", result.Message);
        Assert.Null(store.ReadReceipt("clip-tiny"));
    }
}
