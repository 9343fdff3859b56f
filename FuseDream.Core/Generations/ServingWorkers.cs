using FuseDream.Generation;
using FuseDream.Hosting;
using FuseDream.Persistence;
using FuseDream.Worker;
using Microsoft.Extensions.Options;

namespace FuseDream.Generations;

/// <summary>
/// Whether a live worker serves a model. Jobs are routed to the queue of their model, which
/// only workers that loaded it listen on: a generation of a model no worker serves would wait
/// there for nobody, so with <see cref="HealthOptions.RequireWorker"/> it is refused instead.
/// </summary>
internal sealed class ServingWorkers(WorkerRegistry registry, IOptions<WorkerOptions> workers, IOptions<HealthOptions> health)
{
    /// <summary>Why a generation of <paramref name="model"/> cannot be accepted now, or null when it can.</summary>
    public async Task<string?> RefusalAsync(string model, CancellationToken cancellationToken)
    {
        if (!health.Value.RequireWorker) return null;
        var timeout = workers.Value.HeartbeatTimeout;
        var live = await registry.GetLiveWorkersAsync(timeout, cancellationToken);
        if (live.Any(w => w.Models.Contains(model, StringComparer.Ordinal))) return null;
        var served = live.SelectMany(w => w.Models).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        return $"no worker serving {model} is running; start one with `FuseDream.Worker serve` and {SettingOf(model)} set to its weights " +
               $"(or `FuseDream.Worker models pull {model}` into the worker's model store). " +
               (served.Count == 0
                   ? $"No worker has sent a heartbeat in the last {timeout.TotalSeconds:0} s."
                   : $"The live workers serve: {string.Join(", ", served)}.");
    }

    private static string SettingOf(string model) => model switch
    {
        GenerationOptions.Models.BigGan512 => "Models__BigGan512",
        _ => "Models__BigGan256",
    };
}
