using Serilog;
using Serilog.Events;
using Serilog.Formatting.Compact;

namespace FuseDream.Logging;

/// <summary>
/// One Serilog configuration for both processes: readable console lines on a developer's
/// terminal, compact JSON (one event per line) in containers or when asked for.
/// </summary>
public static class LoggingSetup
{
    /// <summary>Environment variable that selects the console format: <c>text</c> or <c>json</c>.</summary>
    public const string FormatVariable = "FUSEDREAM_LOG_FORMAT";

    /// <summary>True when logs should be compact JSON: <c>FUSEDREAM_LOG_FORMAT=json</c>, or running in a container without an explicit <c>text</c>.</summary>
    public static bool UseJson(Func<string, string?>? getEnvironment = null)
    {
        getEnvironment ??= Environment.GetEnvironmentVariable;
        var format = getEnvironment(FormatVariable)?.Trim().ToLowerInvariant();
        return format switch
        {
            "json" => true,
            "text" => false,
            null or "" => string.Equals(getEnvironment("DOTNET_RUNNING_IN_CONTAINER"), "true", StringComparison.OrdinalIgnoreCase),
            _ => throw new InvalidOperationException(
                $"{FormatVariable} must be 'text' or 'json' (got '{format}')."),
        };
    }

    /// <summary>Applies the shared defaults: levels, enrichment from the log context, the console sink.</summary>
    public static LoggerConfiguration Configure(LoggerConfiguration configuration, bool json)
    {
        configuration
            .MinimumLevel.Information()
            .MinimumLevel.Override("Microsoft", LogEventLevel.Warning)
            .MinimumLevel.Override("Microsoft.Hosting.Lifetime", LogEventLevel.Information)
            .MinimumLevel.Override("Hangfire", LogEventLevel.Information)
            .Enrich.FromLogContext();
        return json
            ? configuration.WriteTo.Console(new CompactJsonFormatter())
            : configuration.WriteTo.Console(
                outputTemplate: "[{Timestamp:HH:mm:ss} {Level:u3}] {Message:lj}{NewLine}{Exception}");
    }

    /// <summary>A logger for the time before the host is built, so start-up failures are logged too.</summary>
    public static Serilog.ILogger CreateBootstrapLogger() =>
        Configure(new LoggerConfiguration(), UseJson()).CreateBootstrapLogger();
}
