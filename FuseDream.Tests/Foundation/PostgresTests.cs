using Npgsql;

namespace FuseDream.Tests.Foundation;

public class PostgresTests
{
    [Fact]
    public async Task LocalPostgres_AnswersAQuery()
    {
        await using var connection = new NpgsqlConnection(TestDatabase.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("select current_database(), 6 * 7", connection);
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal(42, reader.GetInt32(1));
    }
}
