using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace FuseDream.Api.Hosting;

/// <summary>Ready only when PostgreSQL answers a query.</summary>
public sealed class DatabaseHealthCheck(NpgsqlDataSource dataSource) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await using var command = dataSource.CreateCommand("select 1");
            await command.ExecuteScalarAsync(cancellationToken);
            return HealthCheckResult.Healthy("PostgreSQL answers.");
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or System.Net.Sockets.SocketException)
        {
            return HealthCheckResult.Unhealthy($"PostgreSQL is not reachable: {ex.Message}", ex);
        }
    }
}
