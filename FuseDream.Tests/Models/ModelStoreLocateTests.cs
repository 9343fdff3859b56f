using FuseDream.Models;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace FuseDream.Tests.Models;

public sealed class ModelStoreLocateTests : IDisposable
{
    private readonly TempModelStore _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void ResolveDirectory_PrefersTheVariable_ThenContainer_ThenHomeCache()
    {
        var configured = Path.Combine(_temp.Root, "weights");
        Assert.Equal(configured, ModelStore.ResolveDirectory(n => n switch
        {
            ModelStore.DirectoryVariable => configured,
            "DOTNET_RUNNING_IN_CONTAINER" => "true",
            _ => null,
        }));
        Assert.Equal("/models", ModelStore.ResolveDirectory(n => n == "DOTNET_RUNNING_IN_CONTAINER" ? "true" : null));
        Assert.Equal("/home/someone/.cache/fusedream/models", ModelStore.ResolveDirectory(n => n == "HOME" ? "/home/someone" : null));
    }

    [Fact]
    public void Locate_MissingModel_NamesThePullCommandAndThePathToPlaceItByHand()
    {
        var store = new ModelStore(_temp.StoreDirectory, ModelCatalog.LoadEmbedded());

        Assert.Null(store.TryLocate("biggan-512"));
        var error = Assert.Throws<ModelNotFoundException>(() => store.Locate("biggan-512"));

        var expected = Path.Combine(_temp.StoreDirectory, "biggan-512.safetensors");
        Assert.Equal(expected, error.ExpectedPath);
        Assert.Contains("FuseDream.Worker models pull biggan-512", error.Message);
        Assert.Contains(expected, error.Message);
        Assert.Contains(ModelStore.DirectoryVariable, error.Message);
    }

    [Fact]
    public void Locate_PresentModel_ReturnsItsPath()
    {
        var store = new ModelStore(_temp.StoreDirectory, ModelCatalog.LoadEmbedded());
        Directory.CreateDirectory(_temp.StoreDirectory);
        var path = Path.Combine(_temp.StoreDirectory, "ViT-B-32.safetensors");
        File.WriteAllBytes(path, [1, 2, 3]);

        Assert.Equal(path, store.Locate("clip-vit-b-32"));
        Assert.Equal(path, store.TryLocate("clip-vit-b-32"));
    }

    [Fact]
    public async Task Ensure_ThrowsWhenMissingAndNotAllowedToPull_PullsWhenAllowed()
    {
        var clip = await File.ReadAllBytesAsync(TinyCheckpoints.ClipJitPath);
        await using var server = await FixtureFileServer.StartAsync(app =>
            app.MapGet("/clip.pt", (HttpContext c) => FixtureFileServer.ServeBytes(c, clip)));
        _temp.WriteCatalog(new { id = "clip-tiny", kind = "clip", file = "clip_tiny.pt", sha256 = TinyCheckpoints.Sha256(clip), sources = new[] { server.Url("/clip.pt") } });
        var store = _temp.Open();

        var error = await Assert.ThrowsAsync<ModelNotFoundException>(() => store.EnsureAsync("clip-tiny", pullIfMissing: false, null, CancellationToken.None));
        Assert.Equal(0, server.Hits("/clip.pt"));
        var pulled = await store.EnsureAsync("clip-tiny", pullIfMissing: true, null, CancellationToken.None);
        var again = await store.EnsureAsync("clip-tiny", pullIfMissing: false, null, CancellationToken.None);

        Assert.Contains("models pull clip-tiny", error.Message);
        Assert.Equal(pulled, again);
        TinyCheckpoints.AssertStoredFrom(clip, pulled);
        Assert.Equal(1, server.Hits("/clip.pt"));
    }
}
