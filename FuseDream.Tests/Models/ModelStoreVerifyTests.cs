using FuseDream.Checkpoints;
using FuseDream.Models;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using TorchSharp.PyBridge;

namespace FuseDream.Tests.Models;

/// <summary>
/// Verification: published checksum, checksum recorded at placement, and loading against the
/// key/shape manifest for BigGAN (no published checksum; the two Drive files are unlabeled).
/// </summary>
public sealed class ModelStoreVerifyTests : IDisposable
{
    private readonly TempModelStore _temp = new();
    private static readonly byte[] Clip = File.ReadAllBytes(TinyCheckpoints.ClipJitPath);
    private static readonly byte[] G256 = File.ReadAllBytes(TinyCheckpoints.G256Path);
    private static readonly byte[] G512 = File.ReadAllBytes(TinyCheckpoints.G512Path);

    public void Dispose() => _temp.Dispose();

    /// <summary>Catalog shaped like the built-in BigGAN entries, with manifests of the tiny generators.</summary>
    private void WriteBigGanCatalog(string[] sources256, string[] sources512)
    {
        TinyCheckpoints.WriteManifest(_temp.Root, "tiny_256", TinyCheckpoints.G256Path);
        TinyCheckpoints.WriteManifest(_temp.Root, "tiny_512", TinyCheckpoints.G512Path);
        _temp.WriteCatalog(
            new { id = "biggan-256", kind = "biggan", file = "biggan-256.pth", manifest = "tiny_256.json", optionalKeySuffixes = new[] { ".sv0" }, sources = sources256 },
            new { id = "biggan-512", kind = "biggan", file = "biggan-512.pth", manifest = "tiny_512.json", optionalKeySuffixes = new[] { ".sv0" }, sources = sources512 });
    }

    [Fact]
    public async Task Pull_KeepsTheDriveCandidateWhoseShapesMatch_AndAdoptsTheOtherAsItsModel()
    {
        // Which Drive id is 256 and which 512 is not documented: list both, let the shapes decide.
        await using var server = await FixtureFileServer.StartAsync(app =>
            ModelStorePullTests.MapDrive(app, new() { ["IDA"] = G512, ["IDB"] = G256 }));
        string[] both = [server.Url("/uc?export=download&id=IDA"), server.Url("/uc?export=download&id=IDB")];
        WriteBigGanCatalog(both, [.. both.Reverse()]);
        var store = _temp.Open();

        var path = await store.PullAsync("biggan-256", null, CancellationToken.None);

        TinyCheckpoints.AssertStoredFrom(G256, path);
        var receipt = store.ReadReceipt("biggan-256")!;
        Assert.Equal(TinyCheckpoints.Sha256(G256), receipt.SourceSha256);
        Assert.Equal(both[1], receipt.Source);
        Assert.Contains("manifest", receipt.VerifiedBy, StringComparison.Ordinal);
        Assert.Contains(_temp.Log, l => l.Contains("rejected", StringComparison.Ordinal) && l.Contains("'biggan-512'", StringComparison.Ordinal));
        // The 512 file was not wasted: it is now biggan-512, recorded with its checksum.
        var adopted = store.TryLocate("biggan-512");
        Assert.NotNull(adopted);
        TinyCheckpoints.AssertStoredFrom(G512, adopted);
        Assert.Equal(TinyCheckpoints.Sha256(G512), store.ReadReceipt("biggan-512")!.SourceSha256);
        Assert.True((await store.VerifyAsync("biggan-512", CancellationToken.None)).IsValid);
        Assert.Empty(_temp.Leftovers());
    }

    [Fact]
    public async Task Pull_RejectsCheckpointOfTheWrongModel_WhenNoCandidateMatches()
    {
        await using var server = await FixtureFileServer.StartAsync(app =>
            app.MapGet("/g512.pth", (HttpContext c) => FixtureFileServer.ServeBytes(c, G512)));
        WriteBigGanCatalog([server.Url("/g512.pth")], [server.Url("/none.pth")]);
        // biggan-512 already present: the wrong file is rejected and not adopted over it.
        Directory.CreateDirectory(_temp.StoreDirectory);
        await File.WriteAllBytesAsync(Path.Combine(_temp.StoreDirectory, "biggan-512.pth"), G512);
        var store = _temp.Open();

        var error = await Assert.ThrowsAsync<ModelPullException>(() => store.PullAsync("biggan-256", null, CancellationToken.None));

        Assert.Contains("does not match manifest", error.Message);
        Assert.Contains("it is model 'biggan-512'", error.Message);
        Assert.Null(store.TryLocate("biggan-256"));
        Assert.Empty(_temp.Leftovers());
    }

    [Fact]
    public async Task Verify_DetectsCorruptedFile_AfterAHandPlacedFileWasCheckedAgainstThePublishedChecksum()
    {
        _temp.WriteCatalog(new { id = "clip-tiny", kind = "clip", file = "clip_tiny.pt", sha256 = TinyCheckpoints.Sha256(Clip), sources = new[] { "http://127.0.0.1:9/unused" } });
        var store = _temp.Open();
        Directory.CreateDirectory(_temp.StoreDirectory);
        var path = Path.Combine(_temp.StoreDirectory, "clip_tiny.pt");
        await File.WriteAllBytesAsync(path, Clip);
        Assert.True((await store.VerifyAsync("clip-tiny", CancellationToken.None)).IsValid);

        var receipt = store.ReadReceipt("clip-tiny")!;
        Assert.Equal(TinyCheckpoints.Sha256(Clip), receipt.SourceSha256);
        Assert.Equal("placed by hand", receipt.Source);
        TinyCheckpoints.AssertStoredFrom(Clip, path);

        Corrupt(path, offset: (int)new FileInfo(path).Length / 2);
        var result = await store.VerifyAsync("clip-tiny", CancellationToken.None);

        Assert.Equal(VerifyStatus.ChecksumMismatch, result.Status);
        Assert.Contains(receipt.Sha256, result.Message);
    }

    [Fact]
    public async Task Verify_DetectsCorruptedFile_AgainstChecksumRecordedAtPull()
    {
        await using var server = await FixtureFileServer.StartAsync(app =>
            app.MapGet("/g256.pth", (HttpContext c) => FixtureFileServer.ServeBytes(c, G256)));
        WriteBigGanCatalog([server.Url("/g256.pth")], [server.Url("/none.pth")]);
        var store = _temp.Open();
        var path = await store.PullAsync("biggan-256", null, CancellationToken.None);
        var good = await store.VerifyAsync("biggan-256", CancellationToken.None);
        Assert.True(good.IsValid, good.Message);
        Assert.Contains("recorded", good.Method, StringComparison.Ordinal);

        // A flipped byte inside tensor data would still load with the right shapes: the recorded checksum catches it.
        Corrupt(path, offset: G256.Length / 2);
        var result = await store.VerifyAsync("biggan-256", CancellationToken.None);

        Assert.Equal(VerifyStatus.ChecksumMismatch, result.Status);
        Assert.Contains("models pull biggan-256", result.Message);
    }

    [Fact]
    public async Task Verify_ByLoading_AcceptsHandPlacedCheckpointWithoutSv0_AndRecordsItsChecksum()
    {
        WriteBigGanCatalog(["http://127.0.0.1:9/unused"], ["http://127.0.0.1:9/unused"]);
        Directory.CreateDirectory(_temp.StoreDirectory);
        var path = Path.Combine(_temp.StoreDirectory, "biggan-256.pth");
        // Released checkpoints (TF-Hub conversions) lack the spectral-norm sv0 buffers.
        var tensors = CheckpointReader.ReadTensors(TinyCheckpoints.G256Path);
        Assert.Contains(tensors.Keys, k => k.EndsWith(".sv0", StringComparison.Ordinal));
        var stripped = tensors.Where(kv => !kv.Key.EndsWith(".sv0", StringComparison.Ordinal)).ToDictionary(kv => kv.Key, kv => kv.Value);
        await using (var file = File.Create(path))
            PyTorchPickler.PickleStateDict(file, stripped);
        foreach (var t in tensors.Values)
            t.Dispose();
        var store = _temp.Open();

        var result = await store.VerifyAsync("biggan-256", CancellationToken.None);

        Assert.True(result.IsValid, result.Message);
        Assert.Equal(VerifyStatus.Ok, result.Status);
        var receipt = store.ReadReceipt("biggan-256");
        Assert.NotNull(receipt);
        Assert.Equal(TinyCheckpoints.Sha256(path), receipt.Sha256);
        Assert.Equal("placed by hand", receipt.Source);
    }

    [Fact]
    public async Task Verify_ReportsUnreadable_ForTruncatedHandPlacedCheckpoint()
    {
        WriteBigGanCatalog(["http://127.0.0.1:9/unused"], ["http://127.0.0.1:9/unused"]);
        Directory.CreateDirectory(_temp.StoreDirectory);
        await File.WriteAllBytesAsync(Path.Combine(_temp.StoreDirectory, "biggan-256.pth"), G256[..(G256.Length / 3)]);

        var result = await _temp.Open().VerifyAsync("biggan-256", CancellationToken.None);

        Assert.Equal(VerifyStatus.Unreadable, result.Status);
        Assert.Null(_temp.Open().ReadReceipt("biggan-256"));
    }

    [Fact]
    public async Task Verify_ReportsManifestMismatch_ForTheOtherResolution()
    {
        WriteBigGanCatalog(["http://127.0.0.1:9/unused"], ["http://127.0.0.1:9/unused"]);
        Directory.CreateDirectory(_temp.StoreDirectory);
        await File.WriteAllBytesAsync(Path.Combine(_temp.StoreDirectory, "biggan-256.pth"), G512);

        var result = await _temp.Open().VerifyAsync("biggan-256", CancellationToken.None);

        Assert.Equal(VerifyStatus.ManifestMismatch, result.Status);
        Assert.Contains("it is model 'biggan-512'", result.Message);
    }

    [Fact]
    public async Task Verify_ReportsMissing_WithPullCommandAndPath()
    {
        WriteBigGanCatalog(["http://127.0.0.1:9/unused"], ["http://127.0.0.1:9/unused"]);

        var result = await _temp.Open().VerifyAsync("biggan-256", CancellationToken.None);

        Assert.Equal(VerifyStatus.Missing, result.Status);
        Assert.Contains("models pull biggan-256", result.Message);
        Assert.Contains(Path.Combine(_temp.StoreDirectory, "biggan-256.pth"), result.Message);
    }

    private static void Corrupt(string path, long offset)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        file.Position = offset;
        var b = file.ReadByte();
        file.Position = offset;
        file.WriteByte((byte)(b ^ 0xFF));
    }
}
