using FuseDream.Storage;
using Microsoft.Extensions.Options;

namespace FuseDream.Tests.Storage;

/// <summary>The blob-store contract on the file-system provider, and what only it promises.</summary>
public sealed class FileSystemBlobStoreTests : BlobStoreContract, IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "fusedream-blobs-" + Guid.NewGuid().ToString("N"));

    protected override IBlobStore Store() => new FileSystemBlobStore(Options.Create(new BlobStoreOptions { Directory = _root }));

    protected override Task<IReadOnlyList<string>> StoredKeysAsync() =>
        Task.FromResult<IReadOnlyList<string>>(Directory.Exists(_root)
            ? [.. Directory.GetFiles(_root, "*", SearchOption.AllDirectories).Select(Path.GetFileName)!]
            : []);

    [Fact]
    public async Task Blob_IsAFileUnderItsPrefix_WithNoTemporaryFilesLeft()
    {
        var key = await Store().PutAsync("the same image"u8.ToArray(), CancellationToken.None);
        await Store().PutAsync("the same image"u8.ToArray(), CancellationToken.None);
        Assert.Equal([Path.Combine(_root, key[..2], key)], Directory.GetFiles(_root, "*", SearchOption.AllDirectories));
    }

    public void Dispose()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }
}
