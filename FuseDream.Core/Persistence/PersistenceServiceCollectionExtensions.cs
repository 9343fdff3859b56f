using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Npgsql;

namespace FuseDream.Persistence;

internal static class PersistenceServiceCollectionExtensions
{
    /// <summary>
    /// Binds <see cref="DatabaseOptions"/> from <c>ConnectionStrings:FuseDream</c>, validates it at
    /// start, and registers one <see cref="NpgsqlDataSource"/>; a second call changes nothing.
    /// </summary>
    public static IServiceCollection AddFuseDreamDatabase(this IServiceCollection services)
    {
        if (services.Any(d => d.ServiceType == typeof(NpgsqlDataSource))) return services;
        services.AddOptions<DatabaseOptions>()
            .Configure<IConfiguration>((o, config) =>
                o.ConnectionString = config.GetConnectionString(DatabaseOptions.ConnectionStringName) ?? DatabaseOptions.DevelopmentDefault)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.AddSingleton(sp => NpgsqlDataSource.Create(sp.GetRequiredService<IOptions<DatabaseOptions>>().Value.ConnectionString));
        return services;
    }
}
