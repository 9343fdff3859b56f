using System.CommandLine;
using FuseDream.Logging;
using FuseDream.Worker.Hosting;
using Microsoft.Extensions.Hosting;
using Serilog;

namespace FuseDream.Worker.Commands;

/// <summary><c>serve</c>: the long-running worker host.</summary>
public static class ServeCommand
{
    public static Command Create()
    {
        var command = new Command("serve", "Run the worker: take generation jobs from the queue until stopped. " +
                                           "Settings come from appsettings.json and environment variables (Models__Clip, Models__BigGan256, Worker__Count, ...).");
        command.SetAction(async (parse, ct) =>
        {
            try
            {
                using var host = WorkerHost.Build([.. parse.UnmatchedTokens]);
                await host.RunAsync(ct);
                return 0;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                using var logger = LoggingSetup.Configure(new LoggerConfiguration(), LoggingSetup.UseJson()).CreateLogger();
                logger.Fatal(ex, "FuseDream worker failed to start: {Reason}", ex.Message);
                return 1;
            }
        });
        command.TreatUnmatchedTokensAsErrors = false;
        return command;
    }
}
