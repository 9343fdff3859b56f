using System.Diagnostics;
using System.Text.Json;
using FuseDream.Persistence;
using FuseDream.Tests.Foundation;
using Npgsql;

namespace FuseDream.Tests.Worker;

/// <summary>
/// <c>submit</c> and <c>cancel</c> as a user runs them: the worker executable as a child
/// process, in the Production environment, against a real PostgreSQL; what they stored is read
/// back through the repository.
/// </summary>
public class QueueCommandsTests
{
    [Fact]
    public async Task Submit_QueuesAGeneration_ReplaysItsKey_AndCancelCancelsIt()
    {
        var connectionString = await TestDatabase.CreateFreshAsync(nameof(QueueCommandsTests) + "_submit");
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        var repository = new GenerationRepository(dataSource);
        var prompt = $"a corgi {Guid.NewGuid():N}";

        var first = await Worker(connectionString, "submit", prompt, "--preset", "fast", "--seed", "11", "--steps", "3", "--idempotency-key", "cli-1");
        Assert.True(first.ExitCode == 0, first.StdErr);
        var submitted = JsonDocument.Parse(first.StdOut).RootElement;
        var id = submitted.GetProperty("id").GetGuid();
        Assert.Equal("queued", submitted.GetProperty("status").GetString());
        Assert.False(submitted.GetProperty("replayed").GetBoolean());
        var row = await repository.GetAsync(id, CancellationToken.None);
        Assert.NotNull(row);
        Assert.Equal(prompt, row.Prompt);
        Assert.Equal(11, row.Seed);
        Assert.Equal(3, row.Options.Steps);
        Assert.Equal("fast", row.Preset);
        Assert.False(string.IsNullOrEmpty(row.JobId)); // enqueued, not only stored

        var replay = await Worker(connectionString, "submit", prompt, "--preset", "fast", "--seed", "11", "--steps", "3", "--idempotency-key", "cli-1");
        Assert.True(replay.ExitCode == 0, replay.StdErr);
        Assert.Equal(id, JsonDocument.Parse(replay.StdOut).RootElement.GetProperty("id").GetGuid());
        Assert.True(JsonDocument.Parse(replay.StdOut).RootElement.GetProperty("replayed").GetBoolean());

        var conflict = await Worker(connectionString, "submit", prompt, "--preset", "fast", "--seed", "12", "--idempotency-key", "cli-1");
        Assert.Equal(1, conflict.ExitCode);
        Assert.Contains($"already used for generation {id}", conflict.StdErr);

        var cancel = await Worker(connectionString, "cancel", id.ToString());
        Assert.True(cancel.ExitCode == 0, cancel.StdErr);
        Assert.Equal("canceled", JsonDocument.Parse(cancel.StdOut).RootElement.GetProperty("status").GetString());
        Assert.Equal(GenerationStatus.Canceled, (await repository.GetAsync(id, CancellationToken.None))!.Status);

        var again = await Worker(connectionString, "cancel", id.ToString());
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("is canceled; only queued or running generations can be canceled", again.StdErr);

        var unknown = Guid.NewGuid();
        var missing = await Worker(connectionString, "cancel", unknown.ToString());
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains($"no generation has id {unknown}", missing.StdErr);
    }

    [Theory]
    [InlineData("", "--preset", "fast", "prompt is required and must not be empty")]
    [InlineData("a cat", "--preset", "slowest", "unknown preset 'slowest'; known presets:")]
    [InlineData("a cat", "--top-k", "0", "TopK:")]
    [InlineData("a cat", "--seed", "-1", "--seed must be at least 0")]
    [InlineData("a cat", "--steps", "10000", "the run costs 520,100 CLIP image evaluations, over this service's limit of 100,000 (Generation:MaxClipEvaluations)")]
    public async Task Submit_RefusesBadInput_AndStoresNothing(string prompt, string option, string value, string message)
    {
        var connectionString = await TestDatabase.CreateFreshAsync(nameof(QueueCommandsTests) + "_bad_" + option.Trim('-'));
        var run = await Worker(connectionString, "submit", prompt, option, value);
        Assert.Equal(2, run.ExitCode);
        Assert.Contains(message, run.StdErr);
        Assert.Equal("", run.StdOut);
        // Refused before the database was touched: not even the schema exists.
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        await using var command = dataSource.CreateCommand("select to_regclass('fusedream.generations') is null");
        Assert.Equal(true, await command.ExecuteScalarAsync());
    }

    [Fact]
    public async Task Submit_WithoutAConnectionString_OutsideDevelopment_SaysWhichSettingIsMissing()
    {
        var run = await Worker(connectionString: null, "submit", "a cat", "--preset", "fast");
        Assert.Equal(3, run.ExitCode);
        Assert.Contains("ConnectionStrings__FuseDream", run.StdErr);
    }

    /// <summary>
    /// The worker as built in its own output folder (with its own runtime configuration: the
    /// generic host's assemblies are not copied beside the tests, which get them from ASP.NET Core).
    /// </summary>
    private static string WorkerExecutable
    {
        get
        {
            var tests = new DirectoryInfo(AppContext.BaseDirectory); // …/FuseDream.Tests/bin/<configuration>/<framework>/
            var framework = tests.Name;
            var configuration = tests.Parent!.Name;
            var repository = tests.Parent.Parent!.Parent!.Parent!.FullName;
            var path = Path.Combine(repository, "FuseDream.Worker", "bin", configuration, framework, "FuseDream.Worker.dll");
            return File.Exists(path) ? path : throw new FileNotFoundException($"the worker is not built at {path}: build FuseDream.sln", path);
        }
    }

    private static async Task<(int ExitCode, string StdOut, string StdErr)> Worker(string? connectionString, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        psi.ArgumentList.Add(WorkerExecutable);
        foreach (var arg in args) psi.ArgumentList.Add(arg);
        psi.Environment["DOTNET_ENVIRONMENT"] = "Production";
        psi.Environment.Remove("ASPNETCORE_ENVIRONMENT");
        if (connectionString is null) psi.Environment.Remove("ConnectionStrings__FuseDream");
        else psi.Environment["ConnectionStrings__FuseDream"] = connectionString;
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, (await stdout).Trim(), await stderr);
    }
}
