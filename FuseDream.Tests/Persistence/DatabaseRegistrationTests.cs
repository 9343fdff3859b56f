using FuseDream.Persistence;
using FuseDream.Tests.Foundation;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Npgsql;

namespace FuseDream.Tests.Persistence;

/// <summary>The API and the worker reach the database through one registration.</summary>
public class DatabaseRegistrationTests
{
    [Fact]
    public async Task Api_RegistersTheDatabaseOnce()
    {
        var connectionString = await TestDatabase.CreateFreshAsync(nameof(DatabaseRegistrationTests));
        await using var factory = new WebApplicationFactory<Program>().WithWebHostBuilder(builder =>
            builder.UseSetting("ConnectionStrings:FuseDream", connectionString));
        Assert.Single(factory.Services.GetServices<NpgsqlDataSource>());
        Assert.Single(factory.Services.GetServices<IConfigureOptions<DatabaseOptions>>());
        Assert.Equal(connectionString, factory.Services.GetRequiredService<IOptions<DatabaseOptions>>().Value.ConnectionString);
    }
}
