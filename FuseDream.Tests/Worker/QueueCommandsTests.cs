using System.Text.Json;
using FuseDream.Persistence;
using FuseDream.Tests.Foundation;
using FuseDream.Tests.Support;
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
        // No worker runs here: one-machine mode, where a submit waits in the queue for a worker yet to start.
        const string NoWorkerRequired = "--Health:RequireWorker=false";

        var first = await Worker(connectionString, "submit", prompt, "--preset", "fast", "--seed", "11", "--steps", "3", "--idempotency-key", "cli-1", NoWorkerRequired);
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

        var replay = await Worker(connectionString, "submit", prompt, "--preset", "fast", "--seed", "11", "--steps", "3", "--idempotency-key", "cli-1", NoWorkerRequired);
        Assert.True(replay.ExitCode == 0, replay.StdErr);
        Assert.Equal(id, JsonDocument.Parse(replay.StdOut).RootElement.GetProperty("id").GetGuid());
        Assert.True(JsonDocument.Parse(replay.StdOut).RootElement.GetProperty("replayed").GetBoolean());

        var conflict = await Worker(connectionString, "submit", prompt, "--preset", "fast", "--seed", "12", "--idempotency-key", "cli-1", NoWorkerRequired);
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

    [Fact]
    public async Task Submit_ForAModelNoLiveWorkerServes_IsRefused_AndStoresNothing()
    {
        var connectionString = await TestDatabase.CreateFreshAsync(nameof(QueueCommandsTests) + "_noworker");
        var run = await Worker(connectionString, "submit", "a cat", "--preset", "fast", "--model", "biggan-512");
        Assert.Equal(3, run.ExitCode);
        Assert.Contains("no worker serving biggan-512 is running", run.StdErr);
        Assert.Contains("Models__BigGan512", run.StdErr);
        Assert.Equal("", run.StdOut);
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        var (items, _) = await new GenerationRepository(dataSource).ListAsync(null, null, 10, CancellationToken.None);
        Assert.Empty(items);
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

    private static async Task<(int ExitCode, string StdOut, string StdErr)> Worker(string? connectionString, params string[] args)
    {
        var (exitCode, stdout, stderr) = await WorkerProcess.RunAsync(args, TimeSpan.FromMinutes(2), start =>
        {
            start.Environment["DOTNET_ENVIRONMENT"] = "Production";
            start.Environment.Remove("ASPNETCORE_ENVIRONMENT");
            if (connectionString is null) start.Environment.Remove("ConnectionStrings__FuseDream");
            else start.Environment["ConnectionStrings__FuseDream"] = connectionString;
        });
        return (exitCode, stdout.Trim(), stderr);
    }
}
