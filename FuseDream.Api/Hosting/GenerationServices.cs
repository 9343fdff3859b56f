using FuseDream.Hosting;
using System.Text.Json.Serialization;
using FuseDream.Api.Apis;
using FuseDream.Generation;
using FuseDream.Webhooks;
using FuseDream.Worker;

namespace FuseDream.Api.Hosting;

/// <summary>The generation service: storage, queue client, request validation, worker readiness, and in one-machine mode the worker itself.</summary>
public static class GenerationServices
{
    public static WebApplicationBuilder AddGenerationServices(this WebApplicationBuilder builder)
    {
        builder.Services.AddGenerationStorage();
        builder.Services.AddCrashRecovery();
        builder.Services.AddOptions<GenerationLimits>().BindConfiguration(GenerationLimits.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<GenerationRequestReader>();
        // One reader per followed generation, shared by all of its event-stream listeners.
        builder.Services.AddOptions<GenerationEventOptions>().BindConfiguration(GenerationEventOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<GenerationEventHub>();
        // The API checks webhooks at submit and, unless Webhooks:Deliver is false, delivers them.
        builder.Services.AddWebhooks(builder.Configuration.GetValue($"{WebhookOptions.Section}:{nameof(WebhookOptions.Deliver)}", true));
        builder.Services.AddExceptionHandler<BadRequestBodyHandler>();
        builder.Services.AddExceptionHandler<DatabaseUnavailableHandler>();
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.Converters.Add(new JsonStringEnumConverter()));

        builder.Services.AddHealthChecks().AddCheck<WorkerHealthCheck>("workers", tags: ["ready"]);

        // One-machine mode: this process also runs the Hangfire server and the pipeline. It
        // needs libtorch; the worker checks for it at start and says how to build it in.
        if (builder.Configuration.GetValue<bool>($"{WorkerOptions.Section}:{nameof(WorkerOptions.InProcess)}"))
            builder.Services.AddGenerationWorker();
        return builder;
    }
}
