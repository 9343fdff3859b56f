using FuseDream.Models;
using FuseDream.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;

namespace FuseDream.Tests.Models;

/// <summary>The worker finds its models in the model store when configuration names no file.</summary>
public sealed class ModelStorePathsTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("fusedream-store-");
    private readonly ModelStore _store;

    public ModelStorePathsTests() => _store = new ModelStore(_dir.FullName, ModelCatalog.LoadEmbedded());

    public void Dispose() => _dir.Delete(recursive: true);

    private void Place(string id, string fixture) =>
        File.Copy(Path.Combine(FixtureSets.Root, fixture), _store.PathFor(id));

    [Fact]
    public void ExtraClips_AreCheckedOneByOne_NamingTheirSetting()
    {
        var clip = Path.Combine(FixtureSets.Root, "clip", "clip_tiny_jit.pt");
        var options = new ModelPathsOptions
        {
            Clip = clip,
            BigGan256 = Path.Combine(FixtureSets.Root, "biggan", "G256_tiny.pth"),
            ExtraClips = [Path.Combine(FixtureSets.Root, "clip", "clip_tiny_state_dict.pt"), Path.Combine(_dir.FullName, "missing.safetensors")],
        };
        var error = Assert.Single(options.Validate());
        Assert.Contains("Models:ExtraClips:1 (env Models__ExtraClips__1)", error);
        Assert.Contains("missing.safetensors', which does not exist", error);
    }

    [Fact]
    public void UnsetPaths_AreFilledFromTheStore_ForWhatIsPresent()
    {
        Place("clip-vit-b-32", "clip/clip_tiny_jit.pt");
        Place("biggan-256", "biggan/G256_tiny.pth");
        var options = new ModelPathsOptions();

        new ModelStorePaths(_store).PostConfigure(null, options);

        Assert.Equal(_store.PathFor("clip-vit-b-32"), options.Clip);
        Assert.Equal(_store.PathFor("biggan-256"), options.BigGan256);
        Assert.Null(options.BigGan512);
        Assert.Empty(options.Validate());
        Assert.Equal(["biggan-256"], options.ConfiguredModels);
    }

    [Fact]
    public void ExplicitPaths_WinOverTheStore()
    {
        Place("clip-vit-b-32", "clip/clip_tiny_jit.pt");
        Place("biggan-256", "biggan/G256_tiny.pth");
        var explicitGenerator = Path.Combine(FixtureSets.Root, "biggan", "G512_tiny.pth");
        var options = new ModelPathsOptions { BigGan512 = explicitGenerator };

        new ModelStorePaths(_store).PostConfigure(null, options);

        Assert.Equal(explicitGenerator, options.BigGan512);
        Assert.Null(options.BigGan256);
    }

    [Fact]
    public void EmptyStore_IsAStartUpError_NamingThePullCommandsAndTheStore()
    {
        var options = new ModelPathsOptions();
        new ModelStorePaths(_store).PostConfigure(null, options);

        var errors = string.Join(" ", options.Validate());
        Assert.Contains("models pull clip-vit-b-32", errors);
        Assert.Contains("models pull biggan-256", errors);
        Assert.Contains(_dir.FullName, errors);
        Assert.Contains("Models:AutoPull", errors);
    }

    [Fact]
    public void AutoPullOff_DownloadsNothing()
    {
        var options = new ModelPathsOptions { StoreDirectory = _dir.FullName };
        ModelStorePaths.PullMissing(_store, options, NullLogger.Instance, CancellationToken.None);
        Assert.Null(options.Clip);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dir.FullName));
    }
}
