using FuseDream.Checkpoints;
using FuseDream.Models;

namespace FuseDream.Tests.Models;

/// <summary>
/// Where model files come from, in order: an explicit path, then a model folder, then the model
/// store; and how their SHA-256 is worked out once. Real files in temporary folders.
/// </summary>
public sealed class ModelResolverTests : IDisposable
{
    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("fusedream-resolver-");
    private readonly ModelStore _store;
    private readonly string _folder;

    public ModelResolverTests()
    {
        _store = new ModelStore(Path.Combine(_root.FullName, "store"), ModelCatalog.LoadEmbedded());
        Directory.CreateDirectory(_store.Directory);
        _folder = Directory.CreateDirectory(Path.Combine(_root.FullName, "folder")).FullName;
    }

    public void Dispose() => _root.Delete(recursive: true);

    private static string Write(string path, string content = "weights")
    {
        File.WriteAllText(path, content);
        return path;
    }

    [Fact]
    public void ExplicitPath_WinsOverFolderAndStore()
    {
        Write(_store.PathFor("biggan-256"));
        Write(Path.Combine(_folder, "biggan-256.pth"));
        var explicitPath = Write(Path.Combine(_root.FullName, "mine.pth"));

        var file = new ModelResolver(_store).Generator(explicitPath, _folder, "biggan-256");

        Assert.Equal(explicitPath, file.Path);
    }

    [Fact]
    public void Folder_WinsOverTheStore_AndIsSearchedInNameOrder()
    {
        Write(_store.PathFor("clip-vit-b-32"));
        var second = Write(Path.Combine(_folder, "clip.pt"));
        var third = Write(Path.Combine(_folder, "clip.safetensors"));

        var resolver = new ModelResolver(_store);
        Assert.Equal(second, resolver.Clip(null, _folder).Path);

        var first = Write(Path.Combine(_folder, "ViT-B-32.pt"));
        Assert.Equal(first, resolver.Clip(null, _folder).Path);
        Assert.NotEqual(third, resolver.Clip(null, _folder).Path);
    }

    [Fact]
    public void Folder_TakesSafetensorsWhenThereIsNoPth()
    {
        var safetensors = Write(Path.Combine(_folder, "biggan-512.safetensors"));
        Assert.Equal(safetensors, new ModelResolver(_store).Generator(null, _folder, "biggan-512").Path);
    }

    [Fact]
    public void FolderWithoutTheModel_NamesTheFolderAndTheFilesLookedFor()
    {
        var ex = Assert.Throws<FileNotFoundException>(() => new ModelResolver(_store).Generator(null, _folder, "biggan-512"));
        Assert.Equal($"no BigGAN model for biggan-512 in '{_folder}': looked for biggan-512.pth and biggan-512.safetensors; or give --biggan <file>", ex.Message);

        var clip = Assert.Throws<FileNotFoundException>(() => new ModelResolver(_store).Clip(null, _folder));
        Assert.Equal($"no CLIP model in '{_folder}': looked for ViT-B-32.pt, ViT-B-32.safetensors, clip.pt, clip.safetensors; or give --clip <file>", clip.Message);
    }

    [Fact]
    public void MissingFolder_IsRejectedBeforeAnythingElse()
    {
        var missing = Path.Combine(_root.FullName, "absent");
        var ex = Assert.Throws<DirectoryNotFoundException>(() =>
            new ModelResolver(() => throw new InvalidOperationException("store opened")).Resolve("a.pt", "b.pth", missing, "biggan-256"));
        Assert.Equal($"--model-dir '{missing}' does not exist", ex.Message);
    }

    [Fact]
    public void Store_IsTheLastPlaceLooked_AndItsErrorNamesThePullCommand()
    {
        var stored = Write(_store.PathFor("biggan-512"));
        var resolver = new ModelResolver(_store);

        Assert.Equal(stored, resolver.Generator(null, null, "biggan-512").Path);
        var ex = Assert.Throws<ModelNotFoundException>(() => resolver.Generator(null, null, "biggan-256"));
        Assert.Contains("models pull biggan-256", ex.Message);
    }

    [Fact]
    public void FromStore_IsNull_ForAModelAbsentOrUnknownToTheCatalog()
    {
        var resolver = new ModelResolver(_store);
        Assert.Null(resolver.FromStore("biggan-256"));
        Assert.Null(resolver.FromStore("no-such-model"));

        var stored = Write(_store.PathFor("biggan-256"));
        Assert.Equal(stored, resolver.FromStore("biggan-256"));
    }

    [Fact]
    public void Sha256_WithoutAReceipt_IsTheFileHash()
    {
        var path = Write(Path.Combine(_folder, "biggan-256.pth"), "some bytes");
        var file = new ModelFile(path);

        Assert.False(file.IsHashed);
        Assert.Equal(FileHash.Sha256(path), file.Sha256);
        Assert.True(file.IsHashed);
    }

    [Fact]
    public void Sha256_ComesFromTheStoreReceipt_WhenItDescribesTheFile()
    {
        var path = Write(_store.PathFor("biggan-256"), "some bytes");
        var recorded = new string('a', 64);
        new StoreReceipt("biggan-256", Path.GetFileName(path), new FileInfo(path).Length, recorded, "test", "test", DateTimeOffset.UtcNow.AddMinutes(1)).Write(path);

        // The receipt's value, not the file's real hash: the file is not read again.
        Assert.Equal(recorded, new ModelFile(path).Sha256);
    }

    [Fact]
    public void Sha256_IgnoresAReceiptThatNoLongerDescribesTheFile()
    {
        var path = Write(_store.PathFor("biggan-256"), "some bytes");
        var stale = new string('a', 64);
        new StoreReceipt("biggan-256", Path.GetFileName(path), new FileInfo(path).Length + 1, stale, "test", "test", DateTimeOffset.UtcNow.AddMinutes(1)).Write(path);
        Assert.Equal(FileHash.Sha256(path), new ModelFile(path).Sha256);

        new StoreReceipt("biggan-256", Path.GetFileName(path), new FileInfo(path).Length, stale, "test", "test", DateTimeOffset.UtcNow.AddDays(-1)).Write(path);
        Assert.Equal(FileHash.Sha256(path), new ModelFile(path).Sha256);
    }
}
