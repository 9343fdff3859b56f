using System.Collections.Concurrent;
using System.Diagnostics;

namespace FuseDream.Tests.Support;

/// <summary>
/// <c>FuseDream.Worker.dll serve</c> as a child process on the tiny fixture models (real
/// pipeline, CPU), its output drained (so it never blocks on a full pipe) and kept for failure
/// messages. Disposing kills it if it still runs.
/// </summary>
public sealed class ServeProcess : IDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();

    private ServeProcess(Process process, string name)
    {
        _process = process;
        Name = name;
    }

    public string Name { get; }

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public string Output => string.Join('\n', _output);

    public static ServeProcess Start(string name, IEnumerable<(string Key, string Value)> settings, params string[] extra)
    {
        var start = WorkerProcess.Start(["serve", .. settings.Select(s => $"--{s.Key}={s.Value}"), $"--Worker:Name={name}", .. extra]);
        // An empty model store: the process serves exactly the fixture models named below.
        start.Environment["FUSEDREAM_MODELS"] = Directory.CreateTempSubdirectory("fusedream-no-models-").FullName;
        start.ArgumentList.Add($"--Models:Clip={Path.Combine(FixtureSets.Root, "clip", "clip_tiny_jit.pt")}");
        start.ArgumentList.Add($"--Models:BigGan256={Path.Combine(FixtureSets.Root, "biggan", "G256_tiny.pth")}");
        start.ArgumentList.Add("--Models:Device=cpu");
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start the worker process");
        var serve = new ServeProcess(process, name);
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) serve._output.Enqueue(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) serve._output.Enqueue(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return serve;
    }

    /// <summary>SIGKILL: no shutdown hook runs, nothing is handed back, the heartbeat row stays.</summary>
    public async Task KillAsync()
    {
        _process.Kill();
        await WaitForExitAsync(TimeSpan.FromSeconds(30));
    }

    /// <summary>SIGTERM, as <c>docker stop</c> or systemd sends it: the host shuts down gracefully.</summary>
    public async Task TerminateAsync(TimeSpan timeout)
    {
        using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
        await kill.WaitForExitAsync();
        Assert.Equal(0, kill.ExitCode);
        await WaitForExitAsync(timeout);
    }

    private async Task WaitForExitAsync(TimeSpan timeout)
    {
        using var limit = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"worker {Name} did not exit within {timeout}; its output:\n{Output}");
        }
    }

    public void Dispose()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.Dispose();
    }
}
