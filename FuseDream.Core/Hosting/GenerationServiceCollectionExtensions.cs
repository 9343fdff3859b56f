using FuseDream.Access;
using FuseDream.Generations;
using FuseDream.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using FuseDream.Models;
using FuseDream.Persistence;
using FuseDream.Queue;
using FuseDream.Text;
using FuseDream.Telemetry;
using FuseDream.Worker;

namespace FuseDream.Hosting;

public static class GenerationServiceCollectionExtensions
{
    /// <summary>
    /// What both the API and the worker need: the database (migrated at start), the generation
    /// rows, the blob store, the queue client, the generation service and the prompt token counter. Safe to call twice.
    /// </summary>
    public static IServiceCollection AddGenerationStorage(this IServiceCollection services)
    {
        if (services.Any(d => d.ServiceType == typeof(GenerationRepository))) return services;
        services.AddFuseDreamDatabase();
        services.AddSingleton<DatabaseMigrator>();
        // First hosted service: everything after it may assume the schema is in place.
        services.AddHostedService<DatabaseMigrationHostedService>();
        services.AddSingleton<GenerationRepository>();
        services.AddSingleton<GenerationSubmissions>();
        services.AddSingleton<GenerationStateMachine>();
        services.AddSingleton<ProgressStore>();
        services.AddSingleton<WorkerRegistry>();
        services.AddSingleton<ApiKeyStore>(sp => new ApiKeyStore(sp.GetRequiredService<Npgsql.NpgsqlDataSource>()));
        services.AddOptions<AccessOptions>().BindConfiguration(AccessOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<MetricsOptions>().BindConfiguration(MetricsOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<FuseDreamMetrics>();

        services.AddOptions<BlobStoreOptions>().BindConfiguration(BlobStoreOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        // Blobs:Provider picks the store: a shared directory, or an S3-compatible bucket that
        // workers on other machines reach too. An S3 bucket is checked at start.
        services.AddSingleton<IBlobStore>(sp =>
        {
            var blobs = sp.GetRequiredService<IOptions<BlobStoreOptions>>();
            return blobs.Value.IsS3 ? new S3BlobStore(blobs) : new FileSystemBlobStore(blobs);
        });
        services.AddHostedService<BlobStoreStartupCheck>();

        services.AddOptions<QueueOptions>().BindConfiguration(QueueOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<WorkerOptions>().BindConfiguration(WorkerOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        // Required outside Development unless configured; configuration, bound after, decides.
        services.AddOptions<HealthOptions>()
            .Configure<IHostEnvironment>((health, environment) => health.RequireWorker = !environment.IsDevelopment())
            .BindConfiguration(HealthOptions.Section);
        services.AddSingleton<GenerationQueue>();
        services.AddSingleton<ServingWorkers>();
        services.AddSingleton(sp => new GenerationService(
            sp.GetRequiredService<GenerationSubmissions>(),
            sp.GetRequiredService<GenerationStateMachine>(),
            sp.GetRequiredService<GenerationRepository>(),
            sp.GetRequiredService<GenerationQueue>(),
            sp.GetRequiredService<ServingWorkers>(),
            sp.GetRequiredService<ILogger<GenerationService>>(),
            sp.GetRequiredService<IOptions<AccessOptions>>(),
            sp.GetRequiredService<FuseDreamMetrics>()));

        services.TryAddSingleton<IPromptTokenCounter, ClipPromptTokenCounter>();
        return services;
    }

    /// <summary>The Hangfire storage of the generation jobs (for the API's job dashboard).</summary>
    public static Hangfire.JobStorage GenerationJobStorage(this IServiceProvider services) =>
        services.GetRequiredService<GenerationQueue>().Storage;

    /// <summary>
    /// Crash recovery (<see cref="CrashRecovery"/>): hands the generations of a worker that
    /// stopped heartbeating to the next free worker, ahead of younger jobs. Every worker and the
    /// API run it (the API always runs, so a lost generation is noticed even while every worker
    /// is busy); one pass's transitions are guarded, so running it in many processes is safe.
    /// </summary>
    public static IServiceCollection AddCrashRecovery(this IServiceCollection services)
    {
        services.AddGenerationStorage();
        services.AddHostedService<CrashRecovery>();
        return services;
    }

    /// <summary>
    /// The worker process's own <c>/metrics</c> listener on <c>Metrics:Port</c> (the API serves
    /// its metrics, the in-process worker's included, on its own port).
    /// </summary>
    public static IServiceCollection AddWorkerMetricsEndpoint(this IServiceCollection services)
    {
        services.AddGenerationStorage();
        services.AddSingleton<WorkerMetricsServer>();
        services.AddHostedService(sp => sp.GetRequiredService<WorkerMetricsServer>());
        return services;
    }

    /// <summary>
    /// The worker: pipelines built once at start, a Hangfire server on its models' queues, the
    /// cancellation listener and the heartbeat. The pipeline factory defaults to
    /// <see cref="ModelPipelineFactory"/> (models from <c>Models:*</c>); register another
    /// <see cref="IGenerationPipelineFactory"/> to replace it.
    /// </summary>
    public static IServiceCollection AddGenerationWorker(this IServiceCollection services)
    {
        services.AddGenerationStorage();
        services.AddOptions<ModelPathsOptions>().BindConfiguration(ModelPathsOptions.Section);
        // Unset model paths come from the model store (FUSEDREAM_MODELS).
        services.TryAddSingleton(_ => Models.ModelStore.CreateDefault());
        services.AddSingleton<IPostConfigureOptions<ModelPathsOptions>, ModelStorePaths>();
        services.TryAddSingleton<IGenerationPipelineFactory, ModelPipelineFactory>();
        services.AddSingleton<PipelinePool>();
        services.AddTransient<GenerationJob>();
        services.AddSingleton<CancellationSignals>();
        services.AddHostedService(sp => sp.GetRequiredService<CancellationSignals>());
        services.AddSingleton<GenerationServer>();
        services.AddHostedService(sp => sp.GetRequiredService<GenerationServer>());
        services.AddCrashRecovery();
        // Last: announce the worker only once its models are loaded and the server runs.
        services.AddHostedService<WorkerHeartbeat>();
        // Timeouts nest: the host waits longer than the Hangfire server waits for its jobs.
        services.AddOptions<HostOptions>().Configure<Microsoft.Extensions.Options.IOptions<WorkerOptions>>((host, worker) =>
        {
            var needed = worker.Value.ShutdownTimeout + TimeSpan.FromSeconds(15);
            if (host.ShutdownTimeout < needed) host.ShutdownTimeout = needed;
        });
        return services;
    }
}
