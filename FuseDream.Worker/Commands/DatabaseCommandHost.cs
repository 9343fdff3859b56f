using System.CommandLine;
using FuseDream.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace FuseDream.Worker.Commands;

/// <summary>
/// The host of a command that works on the service's database (<c>submit</c>, <c>cancel</c>,
/// <c>keys</c>): the generation storage, the database migrated first as the API and the workers
/// do, and one message with exit code <see cref="QueueCommands.Unavailable"/> when the database
/// cannot be used.
/// </summary>
internal static class DatabaseCommandHost
{
    /// <summary>Runs <paramref name="use"/> with <typeparamref name="TService"/> from a started host.</summary>
    public static async Task<int> RunAsync<TService>(HostApplicationBuilder builder, ParseResult parse, Func<TService, Task<int>> use, CancellationToken ct)
        where TService : notnull
    {
        builder.Logging.ClearProviders();
        builder.Services.AddGenerationStorage();
        try
        {
            using var host = builder.Build();
            await host.StartAsync(ct);
            try
            {
                return await use(host.Services.GetRequiredService<TService>());
            }
            finally
            {
                await host.StopAsync(CancellationToken.None);
            }
        }
        catch (Exception ex) when (ex is Microsoft.Extensions.Options.OptionsValidationException or Npgsql.NpgsqlException or System.Net.Sockets.SocketException or TimeoutException)
        {
            parse.InvocationConfiguration.Error.WriteLine($"error: the service's database is not usable: {ex.Message}");
            return QueueCommands.Unavailable;
        }
    }
}
