using FuseDream.Generation;
using FuseDream.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FuseDream.Models;

/// <summary>
/// Fills the model paths that configuration leaves unset from the model store
/// (<c>FUSEDREAM_MODELS</c>): CLIP from <see cref="ModelPathsOptions.ClipModel"/>, and each
/// BigGAN resolution that is present. Explicit paths always win.
/// </summary>
public sealed class ModelStorePaths(ModelStore store) : IPostConfigureOptions<ModelPathsOptions>
{
    public void PostConfigure(string? name, ModelPathsOptions options)
    {
        options.StoreDirectory ??= store.Directory;
        if (string.IsNullOrWhiteSpace(options.Clip) && store.Catalog.Models.Any(m => m.Id == options.ClipModel))
            options.Clip = store.TryLocate(options.ClipModel);
        if (string.IsNullOrWhiteSpace(options.BigGan256) && string.IsNullOrWhiteSpace(options.BigGan512))
        {
            options.BigGan256 = store.TryLocate(GenerationOptions.Models.BigGan256);
            options.BigGan512 = store.TryLocate(GenerationOptions.Models.BigGan512);
        }
    }

    /// <summary>
    /// With <see cref="ModelPathsOptions.AutoPull"/>, downloads what is still missing (CLIP and
    /// BigGAN-256, the defaults) before the worker loads its models.
    /// </summary>
    public static void PullMissing(ModelStore store, ModelPathsOptions options, ILogger logger, CancellationToken ct)
    {
        if (!options.AutoPull) return;
        if (string.IsNullOrWhiteSpace(options.Clip))
            options.Clip = Pull(store, options.ClipModel, logger, ct);
        if (string.IsNullOrWhiteSpace(options.BigGan256) && string.IsNullOrWhiteSpace(options.BigGan512))
            options.BigGan256 = Pull(store, GenerationOptions.Models.BigGan256, logger, ct);
    }

    private static string Pull(ModelStore store, string id, ILogger logger, CancellationToken ct)
    {
        logger.LogInformation("Models:AutoPull: downloading {ModelId} into {Directory}", id, store.Directory);
        var path = store.EnsureAsync(id, pullIfMissing: true, progress: null, ct).GetAwaiter().GetResult();
        logger.LogInformation("Models:AutoPull: {ModelId} is at {Path}", id, path);
        return path;
    }
}
