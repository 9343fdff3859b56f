using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace FuseDream.Storage;

/// <summary>
/// Blobs as files <c>{root}/{key[0..2]}/{key}</c>. A write goes to a temporary file in the
/// same directory, is flushed to disk, then renamed into place: readers never see a partial
/// blob, and a crash leaves at worst a stray temporary file.
/// </summary>
internal sealed partial class FileSystemBlobStore : IBlobStore
{
    private readonly string _root;

    public FileSystemBlobStore(IOptions<BlobStoreOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _root = Path.GetFullPath(options.Value.Directory);
        try
        {
            Directory.CreateDirectory(_root);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException(
                $"Blobs:Directory (env Blobs__Directory) is '{_root}', which cannot be created: {ex.Message}", ex);
        }
    }

    /// <summary>The absolute root directory.</summary>
    public string Root => _root;

    public static string KeyOf(ReadOnlySpan<byte> content) => Convert.ToHexStringLower(SHA256.HashData(content));

    public async Task<string> PutAsync(ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
    {
        var key = KeyOf(content.Span);
        var path = PathOf(key);
        if (File.Exists(path)) return key;
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temporary = $"{path}.{Guid.NewGuid():N}.tmp";
        try
        {
            await using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 81920, useAsync: true))
            {
                await stream.WriteAsync(content, cancellationToken);
                // Durability boundary: the bytes are on disk before the key is returned (and
                // before any row that names the key can commit).
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary)) File.Delete(temporary);
        }
        return key;
    }

    public Task<Stream?> OpenReadAsync(string key, CancellationToken cancellationToken)
    {
        if (!IsKey(key)) return Task.FromResult<Stream?>(null);
        var path = PathOf(key);
        if (!File.Exists(path)) return Task.FromResult<Stream?>(null);
        return Task.FromResult<Stream?>(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 81920, useAsync: true));
    }

    private string PathOf(string key) => Path.Combine(_root, key[..2], key);

    internal static bool IsKey(string key) => KeyPattern().IsMatch(key);

    [GeneratedRegex("^[0-9a-f]{64}$")]
    private static partial Regex KeyPattern();
}
