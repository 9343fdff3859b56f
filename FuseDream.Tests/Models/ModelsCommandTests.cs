using System.CommandLine;
using FuseDream.Worker.Commands;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace FuseDream.Tests.Models;

/// <summary>The <c>models</c> verbs through the same command tree Program.cs registers, parsing real arguments.</summary>
public sealed class ModelsCommandTests : IDisposable
{
    private readonly TempModelStore _temp = new();
    private static readonly byte[] Clip = File.ReadAllBytes(TinyCheckpoints.ClipJitPath);

    public void Dispose() => _temp.Dispose();

    private async Task<(int Exit, string Out, string Err)> RunAsync(params string[] args)
    {
        var root = new RootCommand { ModelsCommand.Create(_temp.FastOptions()) };
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = await root.Parse(args).InvokeAsync(new InvocationConfiguration { Output = output, Error = error });
        return (exit, output.ToString(), error.ToString());
    }

    private string[] Store => ["--store", _temp.StoreDirectory];

    private void WriteClipCatalog(params string[] sources) =>
        _temp.WriteCatalog(new { id = "clip-tiny", kind = "clip", name = "tiny CLIP", file = "clip_tiny.pt", sizeBytes = Clip.Length, sha256 = TinyCheckpoints.Sha256(Clip), sources });

    [Fact]
    public async Task List_ShowsEveryBuiltInModel_WithSizeAndStatus()
    {
        Directory.CreateDirectory(_temp.StoreDirectory);
        await File.WriteAllBytesAsync(Path.Combine(_temp.StoreDirectory, "biggan-256.safetensors"), [1]);

        var (exit, output, _) = await RunAsync(["models", "list", .. Store]);

        Assert.Equal(0, exit);
        Assert.Contains($"Store:   {_temp.StoreDirectory}", output);
        Assert.Contains("Catalog: built-in", output);
        var lines = output.Split('\n');
        Assert.Contains(lines, l => l.StartsWith("clip-vit-l-14", StringComparison.Ordinal) && l.Contains("~889.8 MiB") && l.Contains("missing") && l.TrimEnd().EndsWith("ViT-L-14.safetensors", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("biggan-256", StringComparison.Ordinal) && l.Contains("present (not verified yet)"));
        Assert.Contains(lines, l => l.StartsWith("biggan-512", StringComparison.Ordinal) && l.Contains("missing"));
        var table = lines.TakeWhile(l => !l.StartsWith("Sources", StringComparison.Ordinal)).ToList();
        Assert.Equal(5, table.Count(l => l.StartsWith("clip-", StringComparison.Ordinal) || l.StartsWith("biggan-", StringComparison.Ordinal)));
        // Then each model's sources, in the order pull tries them.
        var sources = lines.SkipWhile(l => !l.StartsWith("Sources", StringComparison.Ordinal)).Select(l => l.TrimEnd()).ToList();
        var b32 = sources.IndexOf("clip-vit-b-32:");
        Assert.True(b32 > 0, output);
        Assert.StartsWith("  1. https://huggingface.co/timm/vit_base_patch32_clip_224.openai/resolve/main/open_clip_model.safetensors", sources[b32 + 1]);
        Assert.StartsWith("  3. https://huggingface.co/openai/clip-vit-base-patch32/resolve/main/model.safetensors", sources[b32 + 3]);
        Assert.StartsWith("  4. https://openaipublic.azureedge.net/", sources[b32 + 4]);
        var g256 = sources.IndexOf("biggan-256:");
        Assert.StartsWith("  1. https://drive.google.com/", sources[g256 + 1]);
        Assert.Contains("--allow-insecure", sources[g256 + 3]);
        Assert.StartsWith("  4. https://heibox.uni-heidelberg.de/", sources[g256 + 4]);
    }

    [Fact]
    public async Task Path_PrintsWhereTheFileGoes_AndFailsWhileItIsMissing()
    {
        var expected = Path.Combine(_temp.StoreDirectory, "ViT-B-16.safetensors");

        var missing = await RunAsync(["models", "path", "clip-vit-b-16", .. Store]);
        Directory.CreateDirectory(_temp.StoreDirectory);
        await File.WriteAllBytesAsync(expected, [1]);
        var present = await RunAsync(["models", "path", "clip-vit-b-16", .. Store]);

        Assert.Equal((1, expected), (missing.Exit, missing.Out.Trim()));
        Assert.Contains("models pull clip-vit-b-16", missing.Err);
        Assert.Equal((0, expected, ""), (present.Exit, present.Out.Trim(), present.Err));
    }

    [Fact]
    public async Task Path_UnknownId_IsBadInputListingKnownIds()
    {
        var (exit, output, error) = await RunAsync(["models", "path", "vit-b-32", .. Store]);

        Assert.Equal(2, exit);
        Assert.Equal("", output);
        Assert.Contains("Unknown model 'vit-b-32'", error);
        Assert.Contains("clip-vit-b-32", error);
    }

    [Fact]
    public async Task Pull_ThenVerify_ThroughTheCommands_WithACatalogFile()
    {
        await using var server = await FixtureFileServer.StartAsync(app =>
            app.MapGet("/clip.pt", (HttpContext c) => FixtureFileServer.ServeBytes(c, Clip)));
        WriteClipCatalog(server.Url("/clip.pt"));
        string[] common = [.. Store, "--catalog", _temp.CatalogPath];

        var pull = await RunAsync(["models", "pull", "clip-tiny", .. common]);
        var path = pull.Out.Trim();
        var verified = await RunAsync(["models", "verify", .. common]);
        await File.WriteAllBytesAsync(path, Clip[..^1]);
        var corrupted = await RunAsync(["models", "verify", "clip-tiny", .. common]);

        Assert.Equal(0, pull.Exit);
        Assert.Equal(Path.Combine(_temp.StoreDirectory, "clip_tiny.pt"), path);
        Assert.Contains("clip-tiny: downloading " + server.Url("/clip.pt"), pull.Err);
        Assert.Contains("100 %", pull.Err); // the final progress line (stderr is not a terminal here)
        Assert.Matches(@"clip-tiny: 100 % \S+ \S+ / \S+ \S+  \S+ \S+/s  done", pull.Err); // bytes, total, rate
        Assert.Equal(0, verified.Exit);
        Assert.StartsWith("clip-tiny: ok", verified.Out);
        Assert.Equal(1, corrupted.Exit);
        Assert.StartsWith("clip-tiny: FAILED (ChecksumMismatch)", corrupted.Out);
    }

    [Fact]
    public async Task Pull_AllSourcesFail_ExitsOneWithTheUrlsAndManualPath()
    {
        await using var server = await FixtureFileServer.StartAsync(app => app.MapGet("/gone.pt", () => Results.NotFound()));
        WriteClipCatalog(server.Url("/gone.pt"));

        var (exit, output, error) = await RunAsync(["models", "pull", "clip-tiny", .. Store, "--catalog", _temp.CatalogPath]);

        Assert.Equal(1, exit);
        Assert.Equal("", output);
        Assert.Contains(server.Url("/gone.pt"), error);
        Assert.Contains("HTTP 404", error);
        Assert.Contains(Path.Combine(_temp.StoreDirectory, "clip_tiny.pt"), error);
        Assert.Contains("download any one of these files by hand", error);
        Assert.Contains("`FuseDream.Worker models verify clip-tiny`", error);
    }

    [Fact]
    public async Task Verify_AFilePath_SaysWhatTheFileIs_AndWhichModelItPassesAs()
    {
        TinyCheckpoints.WriteManifestOfOurLayout(_temp.Root, "tiny_clip", TinyCheckpoints.ClipOpenClipPath);
        TinyCheckpoints.WriteManifest(_temp.Root, "tiny_256", TinyCheckpoints.G256Path);
        _temp.WriteCatalog(
            new { id = "clip-tiny", kind = "clip", file = "clip-tiny.safetensors", manifest = "tiny_clip.json", sources = new[] { "https://example.invalid/a" } },
            new { id = "biggan-256", kind = "biggan", file = "biggan-256.safetensors", manifest = "tiny_256.json", optionalKeySuffixes = new[] { ".sv0" }, sources = new[] { "https://example.invalid/b" } });
        string[] common = [.. Store, "--catalog", _temp.CatalogPath];

        var clip = await RunAsync(["models", "verify", TinyCheckpoints.ClipTransformersPath, .. common]);
        var generator = await RunAsync(["models", "verify", TinyCheckpoints.G256V1Path, .. common]);
        var other = await RunAsync(["models", "verify", TinyCheckpoints.G512Path, .. common]);

        Assert.Equal(0, clip.Exit);
        Assert.StartsWith($"{TinyCheckpoints.ClipTransformersPath}: ok - passes as 'clip-tiny'", clip.Out);
        Assert.Contains("CLIP ViT in the Hugging Face transformers layout", clip.Out);
        Assert.Contains($"copy it to {Path.Combine(_temp.StoreDirectory, "clip-tiny.safetensors")}", clip.Out);
        Assert.Equal(0, generator.Exit);
        Assert.Contains("passes as 'biggan-256'", generator.Out);
        Assert.Contains("older TF-Hub port (v1) layout", generator.Out);
        Assert.Equal(1, other.Exit);
        Assert.Contains("FAILED - matches no model of the catalog; as 'biggan-256'", other.Out);
        Assert.False(Directory.Exists(_temp.StoreDirectory) && Directory.EnumerateFiles(_temp.StoreDirectory).Any()); // identifying writes nothing
    }

    [Fact]
    public async Task BadCatalogFile_IsBadInput()
    {
        var (exit, _, error) = await RunAsync(["models", "list", .. Store, "--catalog", Path.Combine(_temp.Root, "missing.json")]);

        Assert.Equal(2, exit);
        Assert.Contains("Model catalog file not found", error);
    }
}
