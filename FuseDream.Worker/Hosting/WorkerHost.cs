using FuseDream.Hosting;
using FuseDream.Logging;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Serilog;

namespace FuseDream.Worker.Hosting;

/// <summary>The worker process: the generation worker (Hangfire server, pipelines, heartbeat) on the generic host.</summary>
public static class WorkerHost
{
    public static IHost Build(string[] args, Action<IServiceCollection>? configure = null)
    {
        var builder = Host.CreateApplicationBuilder(args);
        var json = LoggingSetup.UseJson();
        builder.Services.AddSerilog(lc => LoggingSetup.Configure(lc, json));
        builder.Services.AddGenerationWorker();
        builder.Services.AddWorkerMetricsEndpoint();
        configure?.Invoke(builder.Services);
        return builder.Build();
    }
}
