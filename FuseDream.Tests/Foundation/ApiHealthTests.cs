using System.Net;
using FuseDream.Tests.Api;
using FuseDream.Persistence;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace FuseDream.Tests.Foundation;

public class ApiHealthTests(ApiHealthTests.Factory factory) : IClassFixture<ApiHealthTests.Factory>
{
    /// <summary>
    /// The API on a database of its own, like every integration class: starting it migrates
    /// that database, never the shared admin database other checkouts' runs connect to.
    /// Readiness here asks for the database only.
    /// </summary>
    public sealed class Factory : ServiceFactory
    {
        protected override bool InProcessWorker => false;

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.UseSetting("Health:RequireWorker", "false");
        }
    }

    [Fact]
    public async Task HealthLive_Returns200()
    {
        using var client = factory.CreateClient();
        var response = await client.GetAsync("/health/live");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task HealthReady_Returns200_WhenDatabaseAnswers()
    {
        using var client = factory.CreateClient();
        var response = await client.GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("database", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Start_MigratesItsOwnDatabase_NotTheSharedOne()
    {
        // The running host's database is the class's fresh one, not the shared admin database.
        var used = factory.Services.GetRequiredService<IOptions<DatabaseOptions>>().Value.ConnectionString;
        Assert.Equal(Database(factory.ConnectionString), Database(used));
        Assert.NotEqual(Database(TestDatabase.ConnectionString), Database(used));
        // And the host migrated it: the service's tables answer there.
        Assert.Empty(await factory.Probe.WorkerNamesAsync());
        using var client = factory.CreateClient();
        var page = await client.GetJsonAsync("/v1/generations");
        Assert.Empty(page.GetProperty("items").EnumerateArray());
    }

    private static string? Database(string connectionString) => new Npgsql.NpgsqlConnectionStringBuilder(connectionString).Database;
}
