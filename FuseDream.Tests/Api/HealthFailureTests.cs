using System.Net;
using System.Text.Json;
using FuseDream.Tests.Foundation;
using Npgsql;

namespace FuseDream.Tests.Api;

/// <summary>A readiness probe whose database is gone: it names the failing check, not the exception's text.</summary>
public class HealthFailureTests(HealthFailureTests.Factory factory) : IClassFixture<HealthFailureTests.Factory>
{
    public sealed class Factory : ServiceFactory
    {
        protected override bool InProcessWorker => false;
    }

    [Fact]
    public async Task Ready_WithItsDatabaseDropped_Is503NamingTheCheck_WithoutHostUserOrDatabaseNames()
    {
        using var client = factory.CreateClient();
        var database = new NpgsqlConnectionStringBuilder(factory.ConnectionString);
        // The fault: the service's database is dropped under it (its sessions are ended with it).
        await using (var admin = new NpgsqlConnection(TestDatabase.ConnectionString))
        {
            await admin.OpenAsync();
            await TestDatabase.DropAsync(admin, database.Database!);
            await using var gone = new NpgsqlCommand("select count(*) from pg_database where datname = @name", admin);
            gone.Parameters.AddWithValue("name", database.Database!);
            Assert.Equal(0L, (long)(await gone.ExecuteScalarAsync())!);
        }
        NpgsqlConnection.ClearAllPools();

        using var response = await client.GetAsync("/health/ready");
        var body = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(body).RootElement;
        var check = problem.GetProperty("checks").GetProperty("database");
        Assert.Equal("Unhealthy", check.GetProperty("status").GetString());
        Assert.Equal("PostgreSQL is not reachable.", check.GetProperty("description").GetString());
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("traceId").GetString()));
        foreach (var secret in new[] { database.Database!, database.Username!, "does not exist", "3D000" })
            Assert.DoesNotContain(secret, body, StringComparison.OrdinalIgnoreCase);
    }
}
