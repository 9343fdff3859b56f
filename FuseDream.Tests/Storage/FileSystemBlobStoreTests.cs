using System.Security.Cryptography;
using FuseDream.Storage;
using Microsoft.Extensions.Options;

namespace FuseDream.Tests.Storage;

public sealed class FileSystemBlobStoreTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "fusedream-blobs-" + Guid.NewGuid().ToString("N"));

    private FileSystemBlobStore Store() => new(Options.Create(new BlobStoreOptions { Directory = _root }));

    [Fact]
    public async Task Put_ReturnsTheSha256OfTheBytes_AndReadsThemBack()
    {
        var bytes = RandomNumberGenerator.GetBytes(1000);
        var key = await Store().PutAsync(bytes, CancellationToken.None);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), key);
        await using var stream = await Store().OpenReadAsync(key, CancellationToken.None);
        Assert.NotNull(stream);
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy);
        Assert.Equal(bytes, copy.ToArray());
    }

    [Fact]
    public async Task SameBytesTwice_IsOneBlob_WithNoTemporaryFilesLeft()
    {
        var bytes = "the same image"u8.ToArray();
        var store = Store();
        var first = await store.PutAsync(bytes, CancellationToken.None);
        var second = await store.PutAsync(bytes, CancellationToken.None);
        Assert.Equal(first, second);
        var files = Directory.GetFiles(_root, "*", SearchOption.AllDirectories);
        Assert.Equal([Path.Combine(_root, first[..2], first)], files);
    }

    [Theory]
    [InlineData("0000000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("../../etc/passwd")]
    [InlineData("ABCDEF")]
    public async Task UnknownOrMalformedKey_IsNull(string key)
    {
        Assert.Null(await Store().OpenReadAsync(key, CancellationToken.None));
    }

    public void Dispose()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }
}
