using System.Diagnostics;

namespace FuseDream.Tests.Foundation;

/// <summary>The API image must not carry libtorch: only the Worker (and tests) choose a native backend.</summary>
public class ApiPublishTests
{
    [Fact]
    public async Task ApiPublishOutput_ContainsNoLibtorch()
    {
        var repo = RepositoryRoot();
        var output = Directory.CreateTempSubdirectory("fusedream-api-publish-");
        try
        {
            var psi = new ProcessStartInfo("dotnet",
                ["publish", Path.Combine(repo, "FuseDream.Api", "FuseDream.Api.csproj"), "-c", "Release", "-o", output.FullName, "--nologo", "-v", "quiet"])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                WorkingDirectory = repo,
            };
            psi.Environment.Remove("TorchBackend");
            using var process = Process.Start(psi)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            Assert.True(process.ExitCode == 0, $"dotnet publish failed:\n{await stdout}\n{await stderr}");

            var files = Directory.EnumerateFiles(output.FullName, "*", SearchOption.AllDirectories)
                .Select(Path.GetFileName)
                .ToList();
            Assert.Contains("FuseDream.Api.dll", files);
            var libtorch = files.Where(f => f!.StartsWith("libtorch", StringComparison.Ordinal)
                                          || f!.StartsWith("libc10", StringComparison.Ordinal)
                                          || f!.StartsWith("libtorch_cpu", StringComparison.Ordinal)).ToList();
            Assert.True(libtorch.Count == 0, "API publish output carries libtorch: " + string.Join(", ", libtorch));
        }
        finally
        {
            output.Delete(recursive: true);
        }
    }

    internal static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "FuseDream.sln")))
            dir = dir.Parent;
        return dir?.FullName ?? throw new DirectoryNotFoundException("FuseDream.sln not found above " + AppContext.BaseDirectory);
    }
}
