using System.Text.Json;
using FuseDream.Access;
using FuseDream.Tests.Foundation;
using FuseDream.Tests.Support;
using Npgsql;

namespace FuseDream.Tests.Access;

/// <summary><c>keys create | list | revoke</c> as an operator runs them: the worker executable against a real database.</summary>
public class KeysCommandTests
{
    [Fact]
    public async Task CreateListRevoke_ThroughTheCommandLine()
    {
        var connectionString = await TestDatabase.CreateFreshAsync(nameof(KeysCommandTests));
        await using var dataSource = NpgsqlDataSource.Create(connectionString);

        var token = await WorkerProcess.CreateApiKeyAsync(connectionString, "generate", "read");
        var store = new ApiKeyStore(dataSource);
        var check = await store.AuthenticateAsync(token, CancellationToken.None);
        Assert.Null(check.Refusal);
        Assert.Equal(["generate", "read"], check.Key!.Scopes);

        var list = await Keys(connectionString, "list");
        Assert.Equal(0, list.ExitCode);
        var listed = JsonDocument.Parse(Assert.Single(list.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries))).RootElement;
        Assert.Equal(check.Key.Id, listed.GetProperty("id").GetString());
        Assert.DoesNotContain(token[(token.LastIndexOf('_') + 1)..], list.StdOut, StringComparison.Ordinal);

        // The whole key is accepted as well as its id, so a leaked key is revoked as found.
        var revoke = await Keys(connectionString, "revoke", token);
        Assert.True(revoke.ExitCode == 0, revoke.StdErr);
        Assert.Equal(ApiKeyRefusal.Revoked, (await store.AuthenticateAsync(token, CancellationToken.None)).Refusal);

        var unknown = await Keys(connectionString, "revoke", "0000000000000000");
        Assert.Equal(1, unknown.ExitCode);
        Assert.Contains("no API key has id", unknown.StdErr, StringComparison.Ordinal);

        var bad = await Keys(connectionString, "create", "--name", "x", "--scope", "write");
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("unknown scope(s) write", bad.StdErr, StringComparison.Ordinal);
    }

    private static Task<(int ExitCode, string StdOut, string StdErr)> Keys(string connectionString, params string[] args) =>
        WorkerProcess.RunAsync(["keys", .. args], TimeSpan.FromMinutes(2), start =>
        {
            start.Environment["DOTNET_ENVIRONMENT"] = "Production";
            start.Environment["ConnectionStrings__FuseDream"] = connectionString;
        });
}
