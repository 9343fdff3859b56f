using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using FuseDream.Persistence;
using FuseDream.Worker;

namespace FuseDream.Api.Apis;

/// <summary><c>/v1/models</c>: what the connected workers can run, from their heartbeats.</summary>
public static class ModelsApi
{
    public static IEndpointRouteBuilder MapModelsApi(this IEndpointRouteBuilder app)
    {
        app.MapGroup("/v1/models").WithTags("Models").RequireAuthorization(FuseDream.Access.ApiKeyScopes.Read)
            .MapGet("/", GetAsync)
            .WithName("GetModels")
            .WithSummary("Models the connected workers can run, and the workers themselves");
        return app;
    }

    public static async Task<Ok<ModelsResponse>> GetAsync(WorkerRegistry registry, IOptions<WorkerOptions> options, CancellationToken cancellationToken)
    {
        var workers = await registry.GetLiveWorkersAsync(options.Value.HeartbeatTimeout, cancellationToken);
        var models = workers
            .SelectMany(w => w.Models.Select(m => (Model: m, w.WorkerCount)))
            .GroupBy(x => x.Model, StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => new ModelAvailability(g.Key, g.Sum(x => x.WorkerCount)))
            .ToList();
        var clips = workers
            .SelectMany(w => w.Clips.Select(c => (Clip: c, w.WorkerCount)))
            .GroupBy(x => x.Clip, StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => new ModelAvailability(g.Key, g.Sum(x => x.WorkerCount)))
            .ToList();
        return TypedResults.Ok(new ModelsResponse(models,
            [.. workers.Select(w => new WorkerResponse(w.Models, w.WorkerCount, w.StartedAt, w.LastSeen) { Clips = w.Clips, Precision = w.Precision, PrecisionReason = w.PrecisionReason })])
        {
            Clips = clips,
        });
    }
}
