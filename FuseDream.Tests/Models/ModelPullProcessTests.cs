using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using FuseDream.Tests.Support;

namespace FuseDream.Tests.Models;

/// <summary>Two worker processes pulling the same model: the file lock makes the second wait and reuse the first's file.</summary>
public sealed class ModelPullProcessTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);
    private readonly TempModelStore _temp = new();
    private static readonly byte[] Clip = File.ReadAllBytes(TinyCheckpoints.ClipJitPath);

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task TwoProcesses_PullingTheSameModel_DownloadOnceAndBothGetTheFile()
    {
        // The server holds the first download open until the second process reports that it waits for the lock.
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await FixtureFileServer.StartAsync(app =>
            app.MapGet("/clip.pt", async (HttpContext c) =>
            {
                await release.Task.WaitAsync(Patience);
                await FixtureFileServer.ServeBytes(c, Clip);
            }));
        _temp.WriteCatalog(new { id = "clip-tiny", kind = "clip", file = "clip_tiny.pt", sha256 = TinyCheckpoints.Sha256(Clip), sources = new[] { server.Url("/clip.pt") } });

        using var first = StartPull();
        var firstOut = first.StandardOutput.ReadToEndAsync();
        var firstErr = first.StandardError.ReadToEndAsync();
        await WaitUntil(() => server.Hits("/clip.pt") >= 1, "the first process to request the file");

        using var second = StartPull();
        var secondOut = second.StandardOutput.ReadToEndAsync();
        var secondErr = ReadUntilAsync(second.StandardError, "waiting", release);
        using var cts = new CancellationTokenSource(Patience);
        await first.WaitForExitAsync(cts.Token);
        await second.WaitForExitAsync(cts.Token);

        var expected = Path.Combine(_temp.StoreDirectory, "clip_tiny.pt");
        Assert.True(first.ExitCode == 0, await firstErr);
        Assert.True(second.ExitCode == 0, await secondErr);
        Assert.Contains("waiting", await secondErr);
        Assert.Equal(expected, (await firstOut).Trim());
        Assert.Equal(expected, (await secondOut).Trim());
        Assert.Equal(1, server.Hits("/clip.pt"));
        TinyCheckpoints.AssertStoredFrom(Clip, expected);
        Assert.Empty(_temp.Leftovers());
    }

    private Process StartPull()
    {
        var start = WorkerProcess.Start(["models", "pull", "clip-tiny", "--allow-insecure", "--store", _temp.StoreDirectory, "--catalog", _temp.CatalogPath]);
        return Process.Start(start) ?? throw new InvalidOperationException("could not start the worker process");
    }

    /// <summary>Reads a stream to its end, completing <paramref name="seen"/> when a line contains <paramref name="text"/>.</summary>
    private static async Task<string> ReadUntilAsync(StreamReader reader, string text, TaskCompletionSource seen)
    {
        var all = new System.Text.StringBuilder();
        while (await reader.ReadLineAsync() is { } line)
        {
            all.AppendLine(line);
            if (line.Contains(text, StringComparison.Ordinal))
                seen.TrySetResult();
        }
        seen.TrySetResult(); // never leave the server hanging; the assertions say what went wrong
        return all.ToString();
    }

    private static async Task WaitUntil(Func<bool> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > Patience)
                throw new TimeoutException($"Timed out waiting for {what}.");
            await Task.Delay(50);
        }
    }
}
