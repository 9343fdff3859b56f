using System.Diagnostics;
using System.Text.RegularExpressions;

namespace FuseDream.Tests.Support;

/// <summary>
/// A real S3-protocol server for the tests: the npm package <c>s3rver</c> (installed by
/// scripts/bootstrap.sh), started on a free port of 127.0.0.1 over a temporary directory with
/// one bucket, and stopped (its directory removed) when disposed.
/// </summary>
public sealed partial class S3rverProcess : IAsyncDisposable
{
    /// <summary>s3rver's fixed credentials (it checks signatures against them).</summary>
    public const string AccessKeyId = "S3RVER";
    public const string SecretAccessKey = "S3RVER";

    /// <summary>Where bootstrap installs it; <c>FUSEDREAM_S3RVER</c> names another executable.</summary>
    public const string DefaultExecutable = "/opt/fusedream/s3rver/node_modules/.bin/s3rver";

    private readonly Process _process;
    private readonly string _directory;

    private S3rverProcess(Process process, string directory, Uri address, string bucket)
    {
        _process = process;
        _directory = directory;
        Address = address;
        Bucket = bucket;
    }

    public Uri Address { get; }

    public string Bucket { get; }

    public bool IsRunning => !_process.HasExited;

    /// <summary>The settings that point a host's blob store at this server.</summary>
    public IEnumerable<(string Key, string Value)> Settings(string? bucket = null) =>
    [
        ("Blobs:Provider", "s3"),
        ("Blobs:S3:ServiceUrl", Address.ToString()),
        ("Blobs:S3:Bucket", bucket ?? Bucket),
        ("Blobs:S3:Region", "us-east-1"),
        ("Blobs:S3:ForcePathStyle", "true"),
        ("Blobs:S3:AccessKeyId", AccessKeyId),
        ("Blobs:S3:SecretAccessKey", SecretAccessKey),
    ];

    public static string Executable
    {
        get
        {
            var path = Environment.GetEnvironmentVariable("FUSEDREAM_S3RVER") is { Length: > 0 } configured ? configured : DefaultExecutable;
            Assert.True(File.Exists(path), $"s3rver is not installed at {path}: run scripts/bootstrap.sh (or set FUSEDREAM_S3RVER)");
            return path;
        }
    }

    public static async Task<S3rverProcess> StartAsync(string bucket = "fusedream-blobs")
    {
        var directory = Path.Combine(Path.GetTempPath(), "fusedream-s3rver-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        var start = new ProcessStartInfo(Executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "-d", directory, "-a", "127.0.0.1", "-p", "0", "--configure-bucket", bucket })
            start.ArgumentList.Add(arg);
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start s3rver");
        var listening = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        var output = new System.Text.StringBuilder();
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (output) output.AppendLine(e.Data);
            if (Listening().Match(e.Data) is { Success: true } m) listening.TrySetResult(new Uri($"http://{m.Groups[1].Value}/"));
        };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var started = await Task.WhenAny(listening.Task, process.WaitForExitAsync(), Task.Delay(TimeSpan.FromSeconds(30)));
        if (started != listening.Task)
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            string text;
            lock (output) text = output.ToString();
            throw new InvalidOperationException($"s3rver did not start: {text}");
        }
        return new S3rverProcess(process, directory, await listening.Task, bucket);
    }

    /// <summary>Stops the server (the blob store's writes then fail); the fixture's dispose is then a no-op for the process.</summary>
    public async Task StopAsync()
    {
        if (_process.HasExited) return;
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _process.Dispose();
        try { Directory.Delete(_directory, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    [GeneratedRegex(@"listening on ([0-9.]+:[0-9]+)")]
    private static partial Regex Listening();
}

/// <summary>One s3rver for a test class (<c>IClassFixture&lt;S3rverFixture&gt;</c>).</summary>
public sealed class S3rverFixture : IAsyncLifetime
{
    public S3rverProcess Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await S3rverProcess.StartAsync();

    public async Task DisposeAsync() => await Server.DisposeAsync();
}
