using Microsoft.Extensions.Logging;

namespace FuseDream.Models;

/// <summary>
/// Finds model files, in one order for every process and command: an explicit path wins; then a
/// model folder (known file names); then the model store (<c>FUSEDREAM_MODELS</c>); then, where
/// the caller allows it, a download into the store. The store is opened only when it is needed.
/// </summary>
public sealed class ModelResolver
{
    /// <summary>File names a model folder may give CLIP, in the order they are tried.</summary>
    public static readonly IReadOnlyList<string> ClipFileNames = ["ViT-B-32.pt", "ViT-B-32.safetensors", "clip.pt", "clip.safetensors"];

    /// <summary>The CLIP model used when nothing names one: the paper's ViT-B/32.</summary>
    public const string DefaultClipModel = "clip-vit-b-32";

    private readonly Lazy<ModelStore> _store;

    public ModelResolver(Func<ModelStore> store)
    {
        ArgumentNullException.ThrowIfNull(store);
        _store = new Lazy<ModelStore>(store);
    }

    public ModelResolver(ModelStore store) : this(() => store)
    {
        ArgumentNullException.ThrowIfNull(store);
    }

    /// <summary>The resolver of the default model store (<c>FUSEDREAM_MODELS</c>, opened on first use).</summary>
    public static ModelResolver Default() => new(ModelStore.CreateDefault);

    public ModelStore Store => _store.Value;

    /// <summary>File names a model folder may give generator <paramref name="modelId"/>, in the order they are tried.</summary>
    public static IReadOnlyList<string> GeneratorFileNames(string modelId) => [$"{modelId}.pth", $"{modelId}.safetensors"];

    /// <summary>
    /// CLIP and generator files for one run: each explicit path wins, then <paramref name="modelDir"/>,
    /// then the store, whose <see cref="ModelNotFoundException"/> names the <c>models pull</c> command.
    /// Explicit paths are not checked here: loading them says what is wrong with them.
    /// </summary>
    public (ModelFile Clip, ModelFile Generator) Resolve(string? clip, string? bigGan, string? modelDir, string generatorModel, string clipModel = DefaultClipModel)
    {
        if (modelDir is not null && !Directory.Exists(modelDir))
            throw new DirectoryNotFoundException($"--model-dir '{modelDir}' does not exist");
        return (Clip(clip, modelDir, clipModel), Generator(bigGan, modelDir, generatorModel));
    }

    public ModelFile Clip(string? path, string? modelDir, string clipModel = DefaultClipModel) => new(
        path ?? (modelDir is null
            ? Store.Locate(clipModel)
            : InFolder(modelDir, ClipFileNames)
              ?? throw new FileNotFoundException($"no CLIP model in '{modelDir}': looked for {string.Join(", ", ClipFileNames)}; or give --clip <file>")));

    public ModelFile Generator(string? path, string? modelDir, string modelId) => new(
        path ?? (modelDir is null
            ? Store.Locate(modelId)
            : InFolder(modelDir, GeneratorFileNames(modelId))
              ?? throw new FileNotFoundException($"no BigGAN model for {modelId} in '{modelDir}': looked for {string.Join(" and ", GeneratorFileNames(modelId))}; or give --biggan <file>")));

    /// <summary>The store's file for <paramref name="modelId"/> when the catalog knows the id and the file is there; else null.</summary>
    public string? FromStore(string modelId) =>
        Store.Catalog.Models.Any(m => m.Id == modelId) ? Store.TryLocate(modelId) : null;

    /// <summary>The store's file for <paramref name="modelId"/>, downloaded first when it is missing.</summary>
    public string Pull(string modelId, ILogger logger, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(logger);
        logger.LogInformation("Models:AutoPull: downloading {ModelId} into {Directory}", modelId, Store.Directory);
        var path = Store.EnsureAsync(modelId, pullIfMissing: true, progress: null, ct).GetAwaiter().GetResult();
        logger.LogInformation("Models:AutoPull: {ModelId} is at {Path}", modelId, path);
        return path;
    }

    private static string? InFolder(string folder, IEnumerable<string> names) =>
        names.Select(n => Path.Combine(folder, n)).FirstOrDefault(File.Exists);
}
