using System.CommandLine;
using FuseDream.Jobs;
using FuseDream.Logging;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Serilog;

namespace FuseDream.Worker.Commands;

/// <summary><c>serve</c>: the long-running worker host.</summary>
public static class ServeCommand
{
    public static Command Create()
    {
        var command = new Command("serve", "Run the worker: take generation jobs from the queue until stopped.");
        command.SetAction(async (parse, ct) =>
        {
            var builder = Host.CreateApplicationBuilder();
            var json = LoggingSetup.UseJson();
            builder.Services.AddSerilog(lc => LoggingSetup.Configure(lc, json));
            builder.Services.AddFuseDreamDatabase();
            using var host = builder.Build();
            await host.RunAsync(ct);
            return 0;
        });
        return command;
    }
}
