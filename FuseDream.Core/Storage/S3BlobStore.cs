using System.Net;
using System.Runtime.InteropServices;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Microsoft.Extensions.Options;

namespace FuseDream.Storage;

/// <summary>
/// Blobs as objects of one S3-compatible bucket (MinIO, AWS S3, Ceph, …), named by their key,
/// so that workers on several machines and the API share them without a shared file system.
/// A PUT is atomic on S3 (an object is visible whole once the server has stored it, never in
/// part), and the key is returned only after the server acknowledged it: the blob is durable
/// before any row that names it commits, like the file-system store's flush and rename.
/// </summary>
internal sealed class S3BlobStore : IBlobStore, IDisposable
{
    private readonly IAmazonS3 _client;
    private readonly S3BlobStoreOptions _options;

    public S3BlobStore(IOptions<BlobStoreOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value.S3;
        _client = CreateClient(_options);
    }

    public string Bucket => _options.Bucket;

    internal static AmazonS3Client CreateClient(S3BlobStoreOptions options)
    {
        var config = new AmazonS3Config
        {
            ForcePathStyle = options.ForcePathStyle,
            // Checksums only where S3 requires them: several S3-compatible servers do not
            // understand the trailing checksums the SDK otherwise adds to every upload.
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
            // A dead endpoint should fail a job (which is then retried) in seconds, not minutes.
            Timeout = TimeSpan.FromSeconds(30),
            MaxErrorRetry = 2,
        };
        if (!string.IsNullOrWhiteSpace(options.ServiceUrl))
        {
            config.ServiceURL = options.ServiceUrl;
            if (!string.IsNullOrWhiteSpace(options.Region)) config.AuthenticationRegion = options.Region;
        }
        else
        {
            config.RegionEndpoint = Amazon.RegionEndpoint.GetBySystemName(options.Region);
        }
        return string.IsNullOrEmpty(options.AccessKeyId)
            ? new AmazonS3Client(config) // the SDK's chain: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, profile, instance role
            : new AmazonS3Client(new BasicAWSCredentials(options.AccessKeyId, options.SecretAccessKey), config);
    }

    public async Task<string> PutAsync(ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
    {
        var key = FileSystemBlobStore.KeyOf(content.Span);
        try
        {
            // Content-addressed: an object under this key already holds these bytes.
            if (await ExistsAsync(key, cancellationToken)) return key;
            using var body = MemoryMarshal.TryGetArray(content, out var segment)
                ? new MemoryStream(segment.Array!, segment.Offset, segment.Count, writable: false)
                : new MemoryStream(content.ToArray(), writable: false);
            // Durability boundary: PutObject returns once the server has stored the whole object;
            // only then is the key handed out (and a row naming it may commit).
            await _client.PutObjectAsync(new PutObjectRequest
            {
                BucketName = _options.Bucket,
                Key = key,
                InputStream = body,
                AutoCloseStream = false,
                ContentType = "application/octet-stream",
                UseChunkEncoding = false,
            }, cancellationToken);
            return key;
        }
        catch (Exception ex) when (IsStoreFailure(ex, cancellationToken))
        {
            // The job treats a store that refuses a write alike for both providers: an I/O error.
            throw new IOException($"The blob store at {_options.Endpoint} (bucket '{_options.Bucket}') refused the write of {key}: {ex.Message}", ex);
        }
    }

    private static bool IsStoreFailure(Exception ex, CancellationToken cancellationToken) =>
        ex is AmazonServiceException or AmazonClientException or HttpRequestException
        || (ex is TaskCanceledException or TimeoutException && !cancellationToken.IsCancellationRequested);

    public async Task<Stream?> OpenReadAsync(string key, CancellationToken cancellationToken)
    {
        if (!FileSystemBlobStore.IsKey(key)) return null;
        GetObjectResponse response;
        try
        {
            response = await _client.GetObjectAsync(_options.Bucket, key, cancellationToken);
        }
        catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.NotFound && ex.ErrorCode is "NoSuchKey" or "NotFound")
        {
            return null;
        }
        // Streamed from the server to the caller: nothing is buffered whole.
        return new ObjectStream(response);
    }

    /// <summary>
    /// Start-up check: the bucket exists and these credentials can list it. Throws with a
    /// message that names the bucket, the endpoint and the fix.
    /// </summary>
    public async Task EnsureBucketAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = _options.Bucket, MaxKeys = 1 }, cancellationToken);
        }
        catch (AmazonS3Exception ex) when (ex.ErrorCode == "NoSuchBucket" || ex.StatusCode == HttpStatusCode.NotFound)
        {
            throw new InvalidOperationException(
                $"Blobs:S3:Bucket '{_options.Bucket}' does not exist at {_options.Endpoint}: create it (e.g. `mc mb local/{_options.Bucket}` " +
                $"or `aws s3 mb s3://{_options.Bucket}`), or set Blobs:S3:Bucket (env Blobs__S3__Bucket) to an existing bucket.", ex);
        }
        catch (AmazonS3Exception ex)
        {
            throw new InvalidOperationException(
                $"The blob bucket '{_options.Bucket}' at {_options.Endpoint} refused access ({(int)ex.StatusCode} {ex.ErrorCode}: {ex.Message}): " +
                "check Blobs:S3:AccessKeyId/SecretAccessKey or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY and the bucket's policy.", ex);
        }
        catch (Exception ex) when (ex is HttpRequestException or AmazonClientException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            throw new InvalidOperationException(
                $"The blob store at {_options.Endpoint} (bucket '{_options.Bucket}') cannot be reached: {ex.Message}. " +
                "Check Blobs:S3:ServiceUrl (env Blobs__S3__ServiceUrl) and that the server runs.", ex);
        }
    }

    private async Task<bool> ExistsAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            await _client.GetObjectMetadataAsync(_options.Bucket, key, cancellationToken);
            return true;
        }
        catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
    }

    public void Dispose() => _client.Dispose();

    /// <summary>The object's body, which owns (and disposes) the response it came with.</summary>
    private sealed class ObjectStream(GetObjectResponse response) : Stream
    {
        private readonly Stream _body = response.ResponseStream;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => response.ContentLength;
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => _body.Read(buffer, offset, count);
        public override int Read(Span<byte> buffer) => _body.Read(buffer);
        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => _body.ReadAsync(buffer, offset, count, cancellationToken);
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => _body.ReadAsync(buffer, cancellationToken);
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _body.Dispose();
                response.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}

/// <summary>Fails the start of a process whose S3 bucket is missing or unreachable, with the fix in the message.</summary>
internal sealed class BlobStoreStartupCheck(IBlobStore blobs) : Microsoft.Extensions.Hosting.IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) =>
        blobs is S3BlobStore s3 ? s3.EnsureBucketAsync(cancellationToken) : Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
