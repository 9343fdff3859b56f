namespace FuseDream.Storage;

/// <summary>
/// Immutable blobs under content-addressed keys (lower-case hex SHA-256 of the bytes). The
/// same bytes always get the same key, so writing twice (a re-run job) is harmless, and a key
/// once handed out never changes meaning.
/// </summary>
public interface IBlobStore
{
    /// <summary>Stores the bytes durably (they survive a crash once this returns) and returns their key.</summary>
    Task<string> PutAsync(ReadOnlyMemory<byte> content, CancellationToken cancellationToken);

    /// <summary>The blob's bytes as a stream, or null when no blob has that key.</summary>
    Task<Stream?> OpenReadAsync(string key, CancellationToken cancellationToken);
}
