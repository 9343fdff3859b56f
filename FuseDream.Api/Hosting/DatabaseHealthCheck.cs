using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace FuseDream.Api.Hosting;

/// <summary>Ready only when PostgreSQL answers a query.</summary>
/// <remarks>The answer says only that PostgreSQL did not answer; the exception (host, user, database) goes to the log.</remarks>
public sealed class DatabaseHealthCheck(NpgsqlDataSource dataSource, ILogger<DatabaseHealthCheck> logger) : IHealthCheck
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
            logger.LogWarning(ex, "Health check database: PostgreSQL is not reachable");
            return HealthCheckResult.Unhealthy("PostgreSQL is not reachable.");
        }
    }
}
