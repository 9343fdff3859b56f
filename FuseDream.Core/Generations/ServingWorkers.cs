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

    /// <summary>
    /// The CLIPs of <paramref name="clips"/> that no live worker serving <paramref name="model"/> has
    /// loaded, as (index, reason); empty when every one is served, or when no such worker is live
    /// (then nothing is known, and a worker that lacks one fails the generation with a clear error).
    /// </summary>
    public async Task<IReadOnlyList<(int Index, string Reason)>> MissingClipsAsync(string model, IReadOnlyList<ClipWeight> clips, CancellationToken cancellationToken)
    {
        var live = (await registry.GetLiveWorkersAsync(workers.Value.HeartbeatTimeout, cancellationToken))
            .Where(w => w.Models.Contains(model, StringComparer.Ordinal)).ToList();
        if (live.Count == 0) return [];
        // One worker runs a generation, so one worker must have every CLIP named.
        if (live.Any(w => clips.All(c => w.Clips.Contains(c.Model, StringComparer.Ordinal)))) return [];
        var loaded = live.SelectMany(w => w.Clips).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var have = loaded.Count == 0 ? "none" : string.Join(", ", loaded);
        var missing = new List<(int, string)>();
        for (var i = 0; i < clips.Count; i++)
            if (!loaded.Contains(clips[i].Model, StringComparer.Ordinal))
                missing.Add((i, $"no live worker serving {model} has CLIP '{clips[i].Model}'; the CLIPs they have: {have} (see /v1/models)"));
        if (missing.Count == 0)
            missing.Add((0, $"no single live worker serving {model} has all of {string.Join(", ", clips.Select(c => c.Model))}; see /v1/models"));
        return missing;
    }

    private static string SettingOf(string model) => model switch
    {
        GenerationOptions.Models.BigGan512 => "Models__BigGan512",
        _ => "Models__BigGan256",
    };
}
