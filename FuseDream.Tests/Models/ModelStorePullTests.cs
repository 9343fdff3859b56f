using System.Net;
using System.Net.Sockets;
using FuseDream.Models;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace FuseDream.Tests.Models;

/// <summary>Pulls against a real HTTP server on loopback serving the tiny fixture checkpoints.</summary>
public sealed class ModelStorePullTests : IDisposable
{
    private readonly TempModelStore _temp = new();
    private static readonly byte[] Clip = File.ReadAllBytes(TinyCheckpoints.ClipJitPath);

    public void Dispose() => _temp.Dispose();

    private void WriteClipCatalog(string sha256, params string[] sources) => _temp.WriteCatalog(new
    {
        id = "clip-tiny",
        kind = "clip",
        name = "tiny CLIP",
        file = "clip_tiny.pt",
        sizeBytes = Clip.Length,
        sha256,
        sources,
    });

    private sealed class RecordingProgress : IProgress<DownloadProgress>
    {
        public List<DownloadProgress> Reports { get; } = [];
        public void Report(DownloadProgress value)
        {
            lock (Reports) Reports.Add(value);
        }
    }

    [Fact]
    public async Task Pull_DownloadsVerifiesAndPlacesFile_WhenChecksumMatches()
    {
        await using var server = await FixtureFileServer.StartAsync(app =>
            app.MapGet("/clip.pt", (HttpContext c) => FixtureFileServer.ServeBytes(c, Clip)));
        WriteClipCatalog(TinyCheckpoints.Sha256(Clip), server.Url("/clip.pt"));
        var store = _temp.Open();
        var progress = new RecordingProgress();

        var path = await store.PullAsync("clip-tiny", progress, CancellationToken.None);

        Assert.Equal(Path.Combine(_temp.StoreDirectory, "clip_tiny.pt"), path);
        TinyCheckpoints.AssertStoredFrom(Clip, path);
        Assert.Equal(path, store.TryLocate("clip-tiny"));
        var receipt = store.ReadReceipt("clip-tiny");
        Assert.NotNull(receipt);
        Assert.Equal(TinyCheckpoints.Sha256(Clip), receipt.SourceSha256);
        Assert.Equal("clip-openai", receipt.SourceLayout);
        Assert.Equal(server.Url("/clip.pt"), receipt.Source);
        Assert.Empty(_temp.Leftovers());
        var last = progress.Reports[^1];
        Assert.True(last.Completed);
        Assert.Equal(Clip.Length, last.BytesReceived);
        Assert.Equal(Clip.Length, last.TotalBytes);
    }

    [Fact]
    public async Task Pull_ResumesWithRange_WhenConnectionDropsMidFile()
    {
        const int cut = 3_000_000;
        var requests = 0;
        await using var server = await FixtureFileServer.StartAsync(app =>
            app.MapGet("/clip.pt", (HttpContext c) =>
                FixtureFileServer.ServeBytes(c, Clip, honourRange: true, abortAfter: Interlocked.Increment(ref requests) == 1 ? cut : null)));
        WriteClipCatalog(TinyCheckpoints.Sha256(Clip), server.Url("/clip.pt"));

        var path = await _temp.Open().PullAsync("clip-tiny", null, CancellationToken.None);

        TinyCheckpoints.AssertStoredFrom(Clip, path);
        var seen = server.Requests.ToList();
        Assert.Equal(2, seen.Count);
        Assert.Null(seen[0].Range);
        Assert.NotNull(seen[1].Range);
        var resumedAt = long.Parse(seen[1].Range!["bytes=".Length..^1]);
        Assert.InRange(resumedAt, 1, cut);
        Assert.Empty(_temp.Leftovers());
    }

    [Fact]
    public async Task Pull_StartsOver_WhenServerIgnoresRange()
    {
        var requests = 0;
        await using var server = await FixtureFileServer.StartAsync(app =>
            app.MapGet("/clip.pt", (HttpContext c) =>
                FixtureFileServer.ServeBytes(c, Clip, honourRange: false, abortAfter: Interlocked.Increment(ref requests) == 1 ? 2_000_000 : null)));
        WriteClipCatalog(TinyCheckpoints.Sha256(Clip), server.Url("/clip.pt"));

        var path = await _temp.Open().PullAsync("clip-tiny", null, CancellationToken.None);

        // The second answer is a 200 with the whole file: appending it to the partial would corrupt it.
        TinyCheckpoints.AssertStoredFrom(Clip, path);
        Assert.NotNull(server.Requests.Last().Range);
        Assert.Contains(_temp.Log, l => l.Contains("sent the whole file", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Pull_RejectsFileAndPlacesNothing_WhenChecksumDiffers()
    {
        await using var server = await FixtureFileServer.StartAsync(app =>
            app.MapGet("/clip.pt", (HttpContext c) => FixtureFileServer.ServeBytes(c, Clip)));
        var wrong = new string('a', 64);
        WriteClipCatalog(wrong, server.Url("/clip.pt"));
        var store = _temp.Open();

        var error = await Assert.ThrowsAsync<ModelPullException>(() => store.PullAsync("clip-tiny", null, CancellationToken.None));

        Assert.Contains(TinyCheckpoints.Sha256(Clip), error.Message);
        Assert.Contains(wrong, error.Message);
        Assert.Null(store.TryLocate("clip-tiny"));
        Assert.False(File.Exists(Path.Combine(_temp.StoreDirectory, "clip_tiny.pt")));
        Assert.Empty(_temp.Leftovers());
    }

    [Fact]
    public async Task Pull_FallsBackToNextSource_After404And500()
    {
        await using var server = await FixtureFileServer.StartAsync(app =>
        {
            app.MapGet("/gone.pt", () => Results.NotFound());
            app.MapGet("/broken.pt", () => Results.StatusCode(500));
            app.MapGet("/clip.pt", (HttpContext c) => FixtureFileServer.ServeBytes(c, Clip));
        });
        WriteClipCatalog(TinyCheckpoints.Sha256(Clip), server.Url("/gone.pt"), server.Url("/broken.pt"), server.Url("/clip.pt"));

        var path = await _temp.Open(attempts: 3).PullAsync("clip-tiny", null, CancellationToken.None);

        TinyCheckpoints.AssertStoredFrom(Clip, path);
        Assert.Equal(1, server.Hits("/gone.pt"));   // 404 is final: no retry
        Assert.Equal(3, server.Hits("/broken.pt")); // 500 may pass: retried up to the limit
        Assert.Equal(1, server.Hits("/clip.pt"));
        Assert.Contains(_temp.Log, l => l.Contains("/gone.pt failed: HTTP 404", StringComparison.Ordinal));
        Assert.Contains(_temp.Log, l => l.Contains("/broken.pt failed: HTTP 500", StringComparison.Ordinal));
        Assert.Equal(server.Url("/clip.pt"), _temp.Open().ReadReceipt("clip-tiny")!.Source);
    }

    [Fact]
    public async Task Pull_NamesEveryUrlAndTheManualPath_WhenAllSourcesFail()
    {
        await using var server = await FixtureFileServer.StartAsync(app =>
        {
            app.MapGet("/gone.pt", () => Results.NotFound());
            app.MapGet("/broken.pt", () => Results.StatusCode(503));
        });
        var offline = $"http://127.0.0.1:{ClosedPort()}/clip.pt";
        WriteClipCatalog(TinyCheckpoints.Sha256(Clip), server.Url("/gone.pt"), server.Url("/broken.pt"), offline);
        var store = _temp.Open(attempts: 2);

        var error = await Assert.ThrowsAsync<ModelPullException>(() => store.PullAsync("clip-tiny", null, CancellationToken.None));

        Assert.Equal(3, error.Failures.Count);
        Assert.Contains(server.Url("/gone.pt"), error.Message);
        Assert.Contains("HTTP 404", error.Message);
        Assert.Contains(server.Url("/broken.pt"), error.Message);
        Assert.Contains("HTTP 503", error.Message);
        Assert.Contains(offline, error.Message);
        Assert.Contains("refused", error.Failures[2].Error, StringComparison.OrdinalIgnoreCase);
        Assert.Contains(Path.Combine(_temp.StoreDirectory, "clip_tiny.pt"), error.Message);
        Assert.Contains("models verify clip-tiny", error.Message);
        Assert.Null(store.TryLocate("clip-tiny"));
    }

    [Fact]
    public async Task Pull_TwoConcurrentPulls_LeaveOneGoodFileAndDownloadOnce()
    {
        await using var server = await FixtureFileServer.StartAsync(app =>
            app.MapGet("/clip.pt", (HttpContext c) => FixtureFileServer.ServeBytes(c, Clip, delayBeforeBody: TimeSpan.FromMilliseconds(400))));
        WriteClipCatalog(TinyCheckpoints.Sha256(Clip), server.Url("/clip.pt"));
        // Two store instances, as two worker processes would have.
        var first = _temp.Open();
        var second = _temp.Open();

        var paths = await Task.WhenAll(
            Task.Run(() => first.PullAsync("clip-tiny", null, CancellationToken.None)),
            Task.Run(() => second.PullAsync("clip-tiny", null, CancellationToken.None)));

        Assert.Equal(paths[0], paths[1]);
        TinyCheckpoints.AssertStoredFrom(Clip, paths[0]);
        Assert.Equal(1, server.Hits("/clip.pt"));
        Assert.Contains(_temp.Log, l => l.Contains("waiting", StringComparison.Ordinal));
        Assert.Empty(_temp.Leftovers());
    }

    [Fact]
    public async Task Pull_FollowsGoogleDriveConfirmationPage()
    {
        await using var server = await FixtureFileServer.StartAsync(app => MapDrive(app, new() { ["CLIPID"] = Clip }));
        WriteClipCatalog(TinyCheckpoints.Sha256(Clip), server.Url("/uc?export=download&id=CLIPID"));

        var path = await _temp.Open().PullAsync("clip-tiny", null, CancellationToken.None);

        TinyCheckpoints.AssertStoredFrom(Clip, path);
        Assert.Equal(1, server.Hits("/uc"));
        Assert.Equal(1, server.Hits("/download"));
        Assert.Contains(server.Requests, r => r.PathAndQuery.StartsWith("/download?", StringComparison.Ordinal)
                                              && r.PathAndQuery.Contains("confirm=t", StringComparison.Ordinal)
                                              && r.PathAndQuery.Contains("uuid=", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Pull_ReportsHtmlPage_WhenDrivePageOffersNoDownload()
    {
        await using var server = await FixtureFileServer.StartAsync(app =>
            app.MapGet("/uc", () => Results.Content(
                "<html><head><title>Google Drive - Sign in</title></head><body>You need access.</body></html>",
                "text/html")));
        WriteClipCatalog(TinyCheckpoints.Sha256(Clip), server.Url("/uc?export=download&id=X"));

        var error = await Assert.ThrowsAsync<ModelPullException>(() => _temp.Open().PullAsync("clip-tiny", null, CancellationToken.None));

        Assert.Contains("HTML page instead of the file", error.Message);
        Assert.Contains("Sign in", error.Message);
        Assert.Equal(1, server.Hits("/uc")); // not retried: a quota page does not go away in seconds
    }

    /// <summary>
    /// Imitates drive.google.com: <c>/uc?export=download&amp;id=X</c> answers with the "can't scan
    /// for viruses" page whose form leads to <c>/download</c> (drive.usercontent.google.com), which
    /// serves the file only with the confirm and uuid fields.
    /// </summary>
    internal static void MapDrive(IEndpointRouteBuilder app, Dictionary<string, byte[]> files)
    {
        app.MapGet("/uc", (HttpContext c) =>
        {
            var id = c.Request.Query["id"].ToString();
            if (!files.ContainsKey(id))
                return Results.NotFound();
            var action = new Uri(new Uri($"{c.Request.Scheme}://{c.Request.Host}"), "/download");
            var html = $"""
                <!DOCTYPE html><html><head><title>Google Drive - Virus scan warning</title></head><body>
                <div class="uc-main"><p class="uc-warning-caption">Google Drive can't scan this file for viruses.</p>
                <p class="uc-warning-subcaption"><span class="uc-name-size"><a href="/open?id={id}">biggan.pth</a> (300M)</span> is too large for Google to scan for viruses. Would you still like to download this file?</p>
                <form id="download-form" action="{action}" method="get"><input type="submit" id="uc-download-link" class="goog-inline-block jfk-button jfk-button-action" value="Download anyway"/>
                <input type="hidden" name="id" value="{id}"><input type="hidden" name="export" value="download"><input type="hidden" name="confirm" value="t"><input type="hidden" name="uuid" value="0b4e5a7c-1f2e-4a3b-9c8d-7e6f5a4b3c2d"></form></div></body></html>
                """;
            return Results.Content(html, "text/html; charset=utf-8");
        });
        app.MapGet("/download", (HttpContext c) =>
        {
            var q = c.Request.Query;
            if (q["confirm"] != "t" || string.IsNullOrEmpty(q["uuid"]) || q["export"] != "download" || !files.TryGetValue(q["id"].ToString(), out var bytes))
            {
                c.Response.StatusCode = 400;
                return Task.CompletedTask;
            }
            return FixtureFileServer.ServeBytes(c, bytes);
        });
    }

    internal static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
