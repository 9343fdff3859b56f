using System.Security.Cryptography;
using FuseDream.Storage;

namespace FuseDream.Tests.Storage;

/// <summary>
/// What every <see cref="IBlobStore"/> promises, run against each provider (the file system,
/// and S3 on a real S3-protocol server): content-addressed keys, bytes read back unchanged and
/// streamed, idempotent writes, and no answer for a key that is unknown or not a key.
/// </summary>
public abstract class BlobStoreContract
{
    /// <summary>A store of the provider under test, on its own empty location.</summary>
    protected abstract IBlobStore Store();

    /// <summary>How many blobs the store holds, counted behind its back (no leftovers from a write).</summary>
    protected abstract Task<IReadOnlyList<string>> StoredKeysAsync();

    [Fact]
    public async Task Put_ReturnsTheSha256OfTheBytes_AndReadsThemBack()
    {
        var bytes = RandomNumberGenerator.GetBytes(1000);
        var key = await Store().PutAsync(bytes, CancellationToken.None);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), key);
        Assert.Equal(bytes, await ReadAllAsync(Store(), key));
    }

    [Fact]
    public async Task SameBytesTwice_IsOneBlob()
    {
        var bytes = RandomNumberGenerator.GetBytes(300);
        var store = Store();
        var first = await store.PutAsync(bytes, CancellationToken.None);
        var second = await store.PutAsync(bytes, CancellationToken.None);
        Assert.Equal(first, second);
        Assert.Equal(1, (await StoredKeysAsync()).Count(k => k == first));
    }

    [Fact]
    public async Task ConcurrentWritesOfOneImage_LeaveOneWholeBlob()
    {
        var bytes = RandomNumberGenerator.GetBytes(256 * 1024);
        var store = Store();
        var keys = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => store.PutAsync(bytes, CancellationToken.None)));
        Assert.Single(keys.Distinct());
        Assert.Equal([keys[0]], (await StoredKeysAsync()).Where(k => k == keys[0]));
        Assert.Equal(bytes, await ReadAllAsync(store, keys[0]));
    }

    [Fact]
    public async Task LargeBlob_IsReadAsAStream_InPieces()
    {
        var bytes = RandomNumberGenerator.GetBytes(3 * 1024 * 1024 + 17);
        var store = Store();
        var key = await store.PutAsync(bytes, CancellationToken.None);
        await using var stream = await store.OpenReadAsync(key, CancellationToken.None);
        Assert.NotNull(stream);
        // Read in small pieces: a stream, not one buffer handed over whole.
        var buffer = new byte[64 * 1024];
        using var copy = new MemoryStream();
        int read;
        while ((read = await stream.ReadAsync(buffer)) > 0) copy.Write(buffer, 0, read);
        Assert.Equal(bytes, copy.ToArray());
    }

    [Theory]
    [InlineData("0000000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("../../etc/passwd")]
    [InlineData("ABCDEF")]
    public async Task UnknownOrMalformedKey_IsNull(string key)
    {
        Assert.Null(await Store().OpenReadAsync(key, CancellationToken.None));
    }

    protected static async Task<byte[]> ReadAllAsync(IBlobStore store, string key)
    {
        await using var stream = await store.OpenReadAsync(key, CancellationToken.None);
        Assert.NotNull(stream);
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy);
        return copy.ToArray();
    }
}
