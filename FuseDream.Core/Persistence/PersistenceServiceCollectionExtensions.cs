using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Npgsql;

namespace FuseDream.Persistence;

public static class PersistenceServiceCollectionExtensions
{
    /// <summary>Binds <see cref="DatabaseOptions"/> from <c>ConnectionStrings:FuseDream</c>, validates it at start, and registers one <see cref="NpgsqlDataSource"/>.</summary>
    public static IServiceCollection AddFuseDreamDatabase(this IServiceCollection services)
    {
        services.AddOptions<DatabaseOptions>()
            .Configure<IConfiguration>((o, config) =>
                o.ConnectionString = config.GetConnectionString(DatabaseOptions.ConnectionStringName) ?? DatabaseOptions.DevelopmentDefault)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.AddSingleton(sp => NpgsqlDataSource.Create(sp.GetRequiredService<IOptions<DatabaseOptions>>().Value.ConnectionString));
        return services;
    }
}
