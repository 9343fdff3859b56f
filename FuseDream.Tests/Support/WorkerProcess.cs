using System.Diagnostics;

namespace FuseDream.Tests.Support;

/// <summary>The built worker executable, run as a user runs it: a child process.</summary>
public static class WorkerProcess
{
    /// <summary>
    /// The worker as its own build left it. The copy in the tests' output lacks what the
    /// generic host needs outside ASP.NET Core's shared framework, which only the worker's own
    /// output carries (enough for <c>generate</c> and <c>models</c>, not for <c>serve</c>,
    /// <c>submit</c> or <c>cancel</c>).
    /// </summary>
    public static string Dll
    {
        get
        {
            var repo = Foundation.ApiPublishTests.RepositoryRoot();
            var output = Path.GetRelativePath(Path.Combine(repo, "FuseDream.Tests"), AppContext.BaseDirectory); // bin/{Configuration}/{framework}
            var dll = Path.GetFullPath(Path.Combine(repo, "FuseDream.Worker", output, "FuseDream.Worker.dll"));
            Assert.True(File.Exists(dll), $"{dll} is missing: build FuseDream.Worker (building the tests does)");
            return dll;
        }
    }

    /// <summary>A start for <c>dotnet FuseDream.Worker.dll args…</c> with its output redirected.</summary>
    public static ProcessStartInfo Start(IEnumerable<string> args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(Dll),
        };
        start.ArgumentList.Add(Dll);
        foreach (var arg in args) start.ArgumentList.Add(arg);
        return start;
    }

    /// <summary>Runs the worker to its end (bounded by <paramref name="timeout"/>) and returns its exit code and output.</summary>
    public static async Task<(int ExitCode, string StdOut, string StdErr)> RunAsync(
        IEnumerable<string> args, TimeSpan timeout, Action<ProcessStartInfo>? configure = null)
    {
        var start = Start(args);
        configure?.Invoke(start);
        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start the worker process");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var limit = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"the worker ({string.Join(' ', start.ArgumentList.Skip(1))}) did not finish within {timeout}");
        }
        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>
    /// An API key for a service on <paramref name="connectionString"/>, made as an operator makes
    /// one (<c>keys create</c>): the way for a test that starts the API as its own process to call it.
    /// </summary>
    public static async Task<string> CreateApiKeyAsync(string connectionString, params string[] scopes)
    {
        string[] args = ["keys", "create", "--name", "test process", .. scopes.SelectMany(s => new[] { "--scope", s })];
        var (exitCode, stdout, stderr) = await RunAsync(args, TimeSpan.FromMinutes(2), start =>
        {
            start.Environment["DOTNET_ENVIRONMENT"] = "Production";
            start.Environment["ConnectionStrings__FuseDream"] = connectionString;
        });
        Assert.True(exitCode == 0, $"keys create exited {exitCode}: {stderr}");
        return System.Text.Json.JsonDocument.Parse(stdout).RootElement.GetProperty("key").GetString()!;
    }
}
