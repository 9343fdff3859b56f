using System.Diagnostics;

namespace FuseDream.Tests.Foundation;

/// <summary>
/// scripts/bootstrap.sh on this (already prepared) machine: a second run must change nothing
/// and say so, both with a normal user's PATH and through its sudo path. The suite's command
/// runs the bootstrap before the tests, so any run here is a second run.
/// </summary>
public class BootstrapTests
{
    private const string NothingChanged = "everything is in place; nothing changed";

    [Fact]
    public async Task SecondRun_ChangesNothing_WithAPathWithoutSbin()
    {
        // Debian gives normal users no sbin in PATH; the script's tools (ldconfig, runuser) live there.
        var path = string.Join(':', (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Where(d => !d.TrimEnd('/').EndsWith("sbin", StringComparison.Ordinal)));
        var (code, output) = await RunAsync(new() { ["PATH"] = path });
        Assert.True(code == 0, output);
        Assert.Contains(NothingChanged, output);
        Assert.Contains("Database=fusedream_test", output);
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task SecondRun_ChangesNothing_ThroughTheSudoPath()
    {
        var shims = Directory.CreateTempSubdirectory("fusedream-bootstrap-");
        try
        {
            var env = new Dictionary<string, string>();
            var log = Path.Combine(shims.FullName, "sudo.log");
            if (Environment.UserName == "root")
            {
                // As root the script takes the root path; these shims make it believe it is a
                // normal user and give it a sudo that, like the real one, resets the environment
                // and refuses to run without -n (no password prompt may ever appear).
                await File.WriteAllTextAsync(Path.Combine(shims.FullName, "id"),
                    "#!/bin/sh\nif [ \"$1\" = -u ]; then echo 1000; else exec /usr/bin/id \"$@\"; fi\n");
                await File.WriteAllTextAsync(Path.Combine(shims.FullName, "sudo"),
                    $"#!/bin/bash\necho \"$*\" >> '{log}'\n" +
                    "[ \"$1\" = -n ] || { echo 'sudo: a password is required' >&2; exit 1; }; shift\n" +
                    "user=root; if [ \"$1\" = -u ]; then user=$2; shift 2; fi\n" +
                    "exec env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin runuser -u \"$user\" -- \"$@\"\n");
                File.SetUnixFileMode(Path.Combine(shims.FullName, "id"), UnixFileMode.UserRead | UnixFileMode.UserExecute);
                File.SetUnixFileMode(Path.Combine(shims.FullName, "sudo"), UnixFileMode.UserRead | UnixFileMode.UserExecute);
                env["PATH"] = shims.FullName + ":" + Environment.GetEnvironmentVariable("PATH");
            }
            var (code, output) = await RunAsync(env);
            Assert.True(code == 0, output);
            Assert.Contains(NothingChanged, output);
            if (Environment.UserName == "root")
                Assert.Contains("-n -u postgres psql", await File.ReadAllTextAsync(log));
        }
        finally
        {
            shims.Delete(recursive: true);
        }
    }

    private static async Task<(int Code, string Output)> RunAsync(Dictionary<string, string> environment)
    {
        var repo = ApiPublishTests.RepositoryRoot();
        var psi = new ProcessStartInfo("bash", [Path.Combine(repo, "scripts", "bootstrap.sh")])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = repo,
        };
        foreach (var (key, value) in environment) psi.Environment[key] = value;
        using var process = Process.Start(psi)!;
        process.StandardInput.Close(); // no stdin, as in CI
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }
}
