using FuseDream.Models;

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

        var expected = Path.Combine(_temp.StoreDirectory, "biggan-512.pth");
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
        var path = Path.Combine(_temp.StoreDirectory, "ViT-B-32.pt");
        File.WriteAllBytes(path, [1, 2, 3]);

        Assert.Equal(path, store.Locate("clip-vit-b-32"));
        Assert.Equal(path, store.TryLocate("clip-vit-b-32"));
    }
}
