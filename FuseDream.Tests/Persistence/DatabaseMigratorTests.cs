using FuseDream.Tests.Foundation;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using FuseDream.Persistence;

namespace FuseDream.Tests.Persistence;

public class DatabaseMigratorTests
{
    [Fact]
    public async Task ConcurrentStarts_ApplyEachMigrationOnce_UnderTheAdvisoryLock()
    {
        var connectionString = await TestDatabase.CreateFreshAsync(nameof(DatabaseMigratorTests));
        var sources = Enumerable.Range(0, 4).Select(_ => NpgsqlDataSource.Create(connectionString)).ToList();
        try
        {
            var results = await Task.WhenAll(sources.Select(s =>
                Task.Run(() => new DatabaseMigrator(s, NullLogger<DatabaseMigrator>.Instance).MigrateAsync(CancellationToken.None))));

            // Exactly one starter applied each version; the others found it done.
            Assert.Equal(DatabaseMigrator.Migrations.Select(m => m.Version), results.SelectMany(r => r).Order());
            await using var command = sources[0].CreateCommand("select count(*), count(distinct version) from fusedream.schema_migrations");
            await using (var reader = await command.ExecuteReaderAsync())
            {
                await reader.ReadAsync();
                Assert.Equal(DatabaseMigrator.Migrations.Count, reader.GetInt64(0));
                Assert.Equal(DatabaseMigrator.Migrations.Count, reader.GetInt64(1));
            }
            Assert.Empty(await new DatabaseMigrator(sources[0], NullLogger<DatabaseMigrator>.Instance).MigrateAsync(CancellationToken.None));

            await using var tables = sources[0].CreateCommand(
                "select count(*) from information_schema.tables where table_schema = 'fusedream' and table_name in ('generations', 'generation_previews', 'generation_trace', 'workers')");
            Assert.Equal(4L, await tables.ExecuteScalarAsync());
        }
        finally
        {
            foreach (var source in sources) await source.DisposeAsync();
        }
    }

    /// <summary>Versions set aside for a migration of the composition work (0006), which may be absent meanwhile.</summary>
    private static readonly int[] ReservedVersions = [6];

    [Fact]
    public void Migrations_AreEmbedded_AndNumberedFromOne()
    {
        // 1, 2, 3, …: ascending, with no number repeated, and none missing but a reserved one.
        Assert.NotEmpty(DatabaseMigrator.Migrations);
        var versions = DatabaseMigrator.Migrations.Select(m => m.Version).ToList();
        Assert.Equal(versions.Order(), versions);
        Assert.Equal(versions.Count, versions.Distinct().Count());
        Assert.Equal(Enumerable.Range(1, versions[^1]), versions.Union(ReservedVersions.Where(v => v < versions[^1])).Order());
    }
}
