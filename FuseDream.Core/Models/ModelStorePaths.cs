using FuseDream.Generation;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FuseDream.Models;

/// <summary>
/// Fills the model paths that configuration leaves unset from the model store
/// (<c>FUSEDREAM_MODELS</c>) through <see cref="ModelResolver"/>: CLIP from
/// <see cref="ModelPathsOptions.ClipModel"/>, and each BigGAN resolution that is present.
/// Explicit paths always win.
/// </summary>
internal sealed class ModelStorePaths(ModelStore store) : IPostConfigureOptions<ModelPathsOptions>
{
    public void PostConfigure(string? name, ModelPathsOptions options)
    {
        var resolver = new ModelResolver(store);
        options.StoreDirectory ??= store.Directory;
        if (string.IsNullOrWhiteSpace(options.Clip))
            options.Clip = resolver.FromStore(options.ClipModel);
        if (string.IsNullOrWhiteSpace(options.BigGan256) && string.IsNullOrWhiteSpace(options.BigGan512))
        {
            options.BigGan256 = resolver.FromStore(GenerationOptions.Models.BigGan256);
            options.BigGan512 = resolver.FromStore(GenerationOptions.Models.BigGan512);
        }
    }

    /// <summary>
    /// With <see cref="ModelPathsOptions.AutoPull"/>, downloads what is still missing (CLIP and
    /// BigGAN-256, the defaults) before the worker loads its models.
    /// </summary>
    public static void PullMissing(ModelStore store, ModelPathsOptions options, ILogger logger, CancellationToken ct)
    {
        if (!options.AutoPull) return;
        var resolver = new ModelResolver(store);
        if (string.IsNullOrWhiteSpace(options.Clip))
            options.Clip = resolver.Pull(options.ClipModel, logger, ct);
        if (string.IsNullOrWhiteSpace(options.BigGan256) && string.IsNullOrWhiteSpace(options.BigGan512))
            options.BigGan256 = resolver.Pull(GenerationOptions.Models.BigGan256, logger, ct);
    }
}
