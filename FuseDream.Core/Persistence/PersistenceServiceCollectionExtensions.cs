using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Npgsql;

namespace FuseDream.Persistence;

internal static class PersistenceServiceCollectionExtensions
{
    /// <summary>
    /// Binds <see cref="DatabaseOptions"/> from <c>ConnectionStrings:FuseDream</c>, validates it at
    /// start, and registers one <see cref="NpgsqlDataSource"/>; a second call changes nothing.
    /// Only the Development environment falls back to <see cref="DatabaseOptions.DevelopmentDefault"/>:
    /// elsewhere a missing connection string stops the host at start instead of quietly
    /// reaching for a local database.
    /// </summary>
    public static IServiceCollection AddFuseDreamDatabase(this IServiceCollection services)
    {
        if (services.Any(d => d.ServiceType == typeof(NpgsqlDataSource))) return services;
        services.AddOptions<DatabaseOptions>()
            .Configure<IServiceProvider>((o, provider) =>
            {
                var configured = provider.GetService<IConfiguration>()?.GetConnectionString(DatabaseOptions.ConnectionStringName);
                if (!string.IsNullOrWhiteSpace(configured))
                    o.ConnectionString = configured;
                else if (provider.GetService<IHostEnvironment>()?.IsDevelopment() == true)
                    o.ConnectionString = DatabaseOptions.DevelopmentDefault;
            })
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.AddSingleton(sp => NpgsqlDataSource.Create(sp.GetRequiredService<IOptions<DatabaseOptions>>().Value.ConnectionString));
        return services;
    }
}
