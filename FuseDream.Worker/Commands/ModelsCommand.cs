using System.CommandLine;
using FuseDream.Models;

namespace FuseDream.Worker.Commands;

/// <summary>
/// <c>models list | pull &lt;id&gt;... | verify [&lt;id&gt;...] | path &lt;id&gt;</c>: the model store on
/// the command line. Results go to stdout (paths, tables) and notes and progress to stderr, so
/// <c>$(FuseDream.Worker models path biggan-256)</c> works in scripts.
/// Exit codes: 0 done, 1 a model is missing or bad or could not be fetched, 2 bad input.
/// </summary>
public static class ModelsCommand
{
    public const int Failed = 1;
    public const int BadInput = 2;

    /// <param name="options">Download behaviour; tests shorten the retry delays. Its Log is replaced by one writing to stderr.</param>
    public static Command Create(ModelStoreOptions? options = null)
    {
        var store = new Option<string?>("--store")
        {
            Description = $"Model store directory (default: ${ModelStore.DirectoryVariable}, else ~/.cache/fusedream/models; {ModelStore.ContainerDirectory} in containers).",
            Recursive = true,
        };
        var catalog = new Option<string?>("--catalog")
        {
            Description = $"Catalog JSON file to use instead of the built-in one (default: ${ModelCatalog.CatalogVariable}).",
            Recursive = true,
        };
        var context = new StoreContext(store, catalog, options ?? new ModelStoreOptions());

        var command = new Command("models", "List, fetch, verify and locate the CLIP and BigGAN weights.")
        {
            store,
            catalog,
            ModelsListCommand.Create(context),
            ModelsPullCommand.Create(context),
            ModelsVerifyCommand.Create(context),
            ModelsPathCommand.Create(context),
        };
        return command;
    }
}

/// <summary>Builds the store a verb works on from <c>--store</c>/<c>--catalog</c> or the environment.</summary>
internal sealed class StoreContext(Option<string?> storeOption, Option<string?> catalogOption, ModelStoreOptions options)
{
    /// <summary>The store, or null after printing why it cannot be opened (bad catalog file).</summary>
    public ModelStore? Open(ParseResult parse, bool logToError = true, bool allowInsecure = false)
    {
        var error = parse.InvocationConfiguration.Error;
        try
        {
            var directory = parse.GetValue(storeOption) ?? ModelStore.ResolveDirectory();
            var catalogPath = parse.GetValue(catalogOption);
            var catalog = catalogPath is null ? ModelCatalog.LoadDefault() : ModelCatalog.LoadFile(catalogPath);
            var effective = options with
            {
                Log = logToError ? message => error.WriteLine(message) : null,
                AllowInsecureHttp = options.AllowInsecureHttp || allowInsecure,
                AllowAnyRedirectHost = options.AllowAnyRedirectHost || allowInsecure,
            };
            return new ModelStore(directory, catalog, effective);
        }
        catch (Exception e) when (e is InvalidDataException or FileNotFoundException or IOException)
        {
            error.WriteLine($"error: {e.Message}");
            return null;
        }
    }

    /// <summary>The catalog entry for a command-line id, or null after printing the known ids.</summary>
    public static ModelEntry? Entry(ModelStore store, string id, TextWriter error)
    {
        try
        {
            return store.Catalog.Get(id);
        }
        catch (KeyNotFoundException e)
        {
            error.WriteLine($"error: {e.Message}");
            return null;
        }
    }
}
