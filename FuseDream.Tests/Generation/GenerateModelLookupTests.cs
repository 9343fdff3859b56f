using FuseDream.Models;
using FuseDream.Tests.Support;
using FuseDream.Worker.Commands;

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

        var (clip, bigGan) = ModelFiles.Resolve(null, null, null, "biggan-512", () => _store);

        Assert.Equal(_store.PathFor("clip-vit-b-32"), clip);
        Assert.Equal(_store.PathFor("biggan-512"), bigGan);
    }

    [Fact]
    public void ExplicitPaths_DoNotTouchTheStore()
    {
        var clip = Path.Combine(FixtureSets.Root, "clip", "clip_tiny_jit.pt");
        var bigGan = Path.Combine(FixtureSets.Root, "biggan", "G256_tiny.pth");
        var resolved = ModelFiles.Resolve(clip, bigGan, null, "biggan-256", () => throw new InvalidOperationException("store opened"));
        Assert.Equal((clip, bigGan), resolved);
    }

    [Fact]
    public void ModelMissingFromTheStore_NamesThePullCommandAndThePath()
    {
        File.Copy(Path.Combine(FixtureSets.Root, "clip", "clip_tiny_jit.pt"), _store.PathFor("clip-vit-b-32"));

        var ex = Assert.Throws<ModelNotFoundException>(() => ModelFiles.Resolve(null, null, null, "biggan-256", () => _store));

        Assert.Contains("models pull biggan-256", ex.Message);
        Assert.Contains(_store.PathFor("biggan-256"), ex.Message);
    }
}
