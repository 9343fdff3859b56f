using FuseDream.Logging;
using Serilog;

namespace FuseDream.Api.Hosting;

/// <summary>Logs a failure that happened before (or while) the host was built.</summary>
public static class StartupLog
{
    public static void Fatal(Exception ex)
    {
        using var logger = LoggingSetup.Configure(new LoggerConfiguration(), LoggingSetup.UseJson()).CreateLogger();
        logger.Fatal(ex, "FuseDream API failed to start: {Reason}", ex.Message);
    }
}
