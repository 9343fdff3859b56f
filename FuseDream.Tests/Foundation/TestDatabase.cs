using Npgsql;

namespace FuseDream.Tests.Foundation;

/// <summary>The real local PostgreSQL that <c>scripts/bootstrap.sh</c> prepares.</summary>
public static class TestDatabase
{
    /// <summary>Environment variable with the connection string of the test database.</summary>
    public const string Variable = "FUSEDREAM_TEST_DB";

    public static string ConnectionString =>
        Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } value
            ? value
            : "Host=localhost;Port=5432;Database=fusedream_test;Username=fusedream;Password=fusedream";

    private static readonly string CheckoutTag = Convert.ToHexStringLower(
        System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(AppContext.BaseDirectory)))[..8];

    /// <summary>Creates a fresh, empty database for one test class and returns its connection string.</summary>
    public static async Task<string> CreateFreshAsync(string name)
    {
        var safe = new string(name.ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) ? c : '_').ToArray());
        // Names carry a hash of this checkout's build output, so test runs from two checkouts on
        // one PostgreSQL never drop each other's databases; a rerun from the same checkout
        // replaces its own.
        var database = $"fdt_{CheckoutTag}_{safe}";
        if (database.Length > 63) database = database[..63];
        await using (var admin = new NpgsqlConnection(ConnectionString))
        {
            await admin.OpenAsync();
            await SweepAsync(admin);
            await DropAsync(admin, database, ifExists: true);
            await using var create = new NpgsqlCommand($"create database \"{database}\"", admin);
            await create.ExecuteNonQueryAsync();
            await using var comment = new NpgsqlCommand($"comment on database \"{database}\" is '{AppContext.BaseDirectory.Replace("'", "''")}'", admin);
            await comment.ExecuteNonQueryAsync();
        }
        return new NpgsqlConnectionStringBuilder(ConnectionString) { Database = database, Pooling = true }.ConnectionString;
    }

    private static readonly SemaphoreSlim SweepOnce = new(1, 1);
    private static bool swept;

    /// <summary>
    /// Once per test process, drops the databases of checkouts that no longer exist (each database
    /// carries its checkout's build directory as its comment), so that runs from many checkouts
    /// do not pile databases up on the shared server: hundreds of them made its start-up after an
    /// unclean stop outlast pg_ctl's wait. A database that cannot be dropped is left for later.
    /// </summary>
    private static async Task SweepAsync(NpgsqlConnection admin)
    {
        await SweepOnce.WaitAsync();
        try
        {
            if (swept) return;
            swept = true;
            var stale = new List<string>();
            await using (var list = new NpgsqlCommand(
                @"select datname, shobj_description(oid, 'pg_database') from pg_database where datname like 'fdt\_%'", admin))
            await using (var reader = await list.ExecuteReaderAsync())
            {
                while (await reader.ReadAsync())
                    if (!reader.IsDBNull(1) && reader.GetString(1) is { Length: > 0 } home && Path.IsPathRooted(home) && !Directory.Exists(home))
                        stale.Add(reader.GetString(0));
            }
            foreach (var name in stale)
            {
                try { await DropAsync(admin, name, ifExists: true); }
                catch (PostgresException e) { Console.Error.WriteLine($"stale test database {name} left: {e.MessageText}"); }
            }
        }
        finally { SweepOnce.Release(); }
    }

    /// <summary>
    /// Drops a database, ending its sessions. An autovacuum worker busy in it has no role that an
    /// unprivileged owner may signal, so PostgreSQL refuses the forced drop with 42501 (or 55006
    /// while such a session lingers) until the worker is done; the drop is retried for up to 30 s.
    /// </summary>
    public static async Task DropAsync(NpgsqlConnection admin, string database, bool ifExists = false)
    {
        var sql = $"drop database {(ifExists ? "if exists " : "")}\"{database}\" with (force)";
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await using var drop = new NpgsqlCommand(sql, admin);
                await drop.ExecuteNonQueryAsync();
                return;
            }
            catch (PostgresException e) when (e.SqlState is "42501" or "55006" && attempt < 60)
            {
                await Task.Delay(500);
            }
        }
    }
}
