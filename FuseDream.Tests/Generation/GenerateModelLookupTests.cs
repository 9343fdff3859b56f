using FuseDream.Models;
using FuseDream.Tests.Support;

namespace FuseDream.Tests.Generation;

/// <summary><c>generate</c> without --clip/--biggan/--model-dir takes its models from the model store.</summary>
public sealed class GenerateModelLookupTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("fusedream-generate-store-");
    private readonly ModelStore _store;

    public GenerateModelLookupTests() => _store = new ModelStore(_dir.FullName, ModelCatalog.LoadEmbedded());

    public void Dispose() => _dir.Delete(recursive: true);

    [Fact]
    public void NoPathsGiven_ModelsComeFromTheStore()
    {
        File.Copy(Path.Combine(FixtureSets.Root, "clip", "clip_tiny_jit.pt"), _store.PathFor("clip-vit-b-32"));
        File.Copy(Path.Combine(FixtureSets.Root, "biggan", "G512_tiny.pth"), _store.PathFor("biggan-512"));

        var (clip, bigGan) = new ModelResolver(_store).Resolve(null, null, null, "biggan-512");

        Assert.Equal(_store.PathFor("clip-vit-b-32"), clip.Path);
        Assert.Equal(_store.PathFor("biggan-512"), bigGan.Path);
    }

    [Fact]
    public void ExplicitPaths_DoNotTouchTheStore()
    {
        var clip = Path.Combine(FixtureSets.Root, "clip", "clip_tiny_jit.pt");
        var bigGan = Path.Combine(FixtureSets.Root, "biggan", "G256_tiny.pth");
        var resolved = new ModelResolver(() => throw new InvalidOperationException("store opened")).Resolve(clip, bigGan, null, "biggan-256");
        Assert.Equal((clip, bigGan), (resolved.Clip.Path, resolved.Generator.Path));
    }

    [Fact]
    public void ModelMissingFromTheStore_NamesThePullCommandAndThePath()
    {
        File.Copy(Path.Combine(FixtureSets.Root, "clip", "clip_tiny_jit.pt"), _store.PathFor("clip-vit-b-32"));

        var ex = Assert.Throws<ModelNotFoundException>(() => new ModelResolver(_store).Resolve(null, null, null, "biggan-256"));

        Assert.Contains("models pull biggan-256", ex.Message);
        Assert.Contains(_store.PathFor("biggan-256"), ex.Message);
    }
}
