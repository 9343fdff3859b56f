using System.Reflection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using FuseDream.Queue;

namespace FuseDream.Persistence;

/// <summary>
/// Applies the embedded <c>Persistence/Sql/NNNN_name.sql</c> migrations in order, each in its own
/// transaction, under a PostgreSQL advisory lock so that an API and several workers starting
/// together apply each one exactly once. Applied versions are recorded in
/// <c>fusedream.schema_migrations</c>.
/// </summary>
internal sealed class DatabaseMigrator(NpgsqlDataSource dataSource, ILogger<DatabaseMigrator> logger)
{
    /// <summary>Advisory lock key: "FuseDrea" in ASCII, distinct from anything Hangfire takes.</summary>
    public const long LockKey = 0x4675_7365_4472_6561;

    private const string ResourcePrefix = "FuseDream.Persistence.Sql.";

    /// <summary>The embedded migrations as (version, name, sql), in the order they apply.</summary>
    public static IReadOnlyList<(int Version, string Name, string Sql)> Migrations { get; } = LoadMigrations();

    /// <summary>Applies every migration not yet recorded; returns the versions it applied.</summary>
    public async Task<IReadOnlyList<int>> MigrateAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        // Session-level lock: held across the per-migration transactions, released on close.
        await using (var lockCommand = new NpgsqlCommand("select pg_advisory_lock(@key)", connection))
        {
            lockCommand.Parameters.AddWithValue("key", LockKey);
            await lockCommand.ExecuteNonQueryAsync(cancellationToken);
        }
        try
        {
            await using (var create = new NpgsqlCommand(
                """
                create schema if not exists fusedream;
                create table if not exists fusedream.schema_migrations (
                    version    integer primary key,
                    name       text not null,
                    applied_at timestamptz not null default now());
                """, connection))
            {
                await create.ExecuteNonQueryAsync(cancellationToken);
            }

            var applied = new HashSet<int>();
            await using (var select = new NpgsqlCommand("select version from fusedream.schema_migrations", connection))
            await using (var reader = await select.ExecuteReaderAsync(cancellationToken))
            {
                while (await reader.ReadAsync(cancellationToken)) applied.Add(reader.GetInt32(0));
            }

            var done = new List<int>();
            foreach (var (version, name, sql) in Migrations.Where(m => !applied.Contains(m.Version)))
            {
                await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
                await using (var apply = new NpgsqlCommand(sql, connection, transaction))
                    await apply.ExecuteNonQueryAsync(cancellationToken);
                await using (var record = new NpgsqlCommand(
                    "insert into fusedream.schema_migrations (version, name) values (@v, @n)", connection, transaction))
                {
                    record.Parameters.AddWithValue("v", version);
                    record.Parameters.AddWithValue("n", name);
                    await record.ExecuteNonQueryAsync(cancellationToken);
                }
                await transaction.CommitAsync(cancellationToken);
                logger.LogInformation("Applied database migration {Version} {Name}", version, name);
                done.Add(version);
            }
            return done;
        }
        finally
        {
            await using var unlock = new NpgsqlCommand("select pg_advisory_unlock(@key)", connection);
            unlock.Parameters.AddWithValue("key", LockKey);
            await unlock.ExecuteNonQueryAsync(CancellationToken.None);
        }
    }

    private static IReadOnlyList<(int, string, string)> LoadMigrations()
    {
        var assembly = typeof(DatabaseMigrator).Assembly;
        var list = new List<(int, string, string)>();
        foreach (var resource in assembly.GetManifestResourceNames().Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal)))
        {
            var file = resource[ResourcePrefix.Length..];
            var underscore = file.IndexOf('_');
            if (underscore <= 0 || !int.TryParse(file[..underscore], out var version))
                throw new InvalidOperationException($"Migration '{file}' must be named NNNN_description.sql.");
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var reader = new StreamReader(stream);
            list.Add((version, Path.GetFileNameWithoutExtension(file), reader.ReadToEnd()));
        }
        var duplicate = list.GroupBy(m => m.Item1).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            throw new InvalidOperationException($"Two migrations share version {duplicate.Key}: {string.Join(", ", duplicate.Select(m => m.Item2))}.");
        return list.OrderBy(m => m.Item1).ToList();
    }
}

/// <summary>
/// Runs <see cref="DatabaseMigrator"/> before any other hosted service starts, then prepares
/// Hangfire's schema, so that the first request does not pay for it.
/// </summary>
internal sealed class DatabaseMigrationHostedService(DatabaseMigrator migrator, GenerationQueue queue) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await migrator.MigrateAsync(cancellationToken);
        _ = queue.Storage;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
