using Amazon.S3.Model;
using FuseDream.Storage;
using FuseDream.Tests.Support;
using Microsoft.Extensions.Options;

namespace FuseDream.Tests.Storage;

/// <summary>
/// The blob-store contract on the S3 provider against a real S3-protocol server (s3rver on
/// 127.0.0.1), each test on a bucket of its own; and the S3 store's start-up check and failures.
/// </summary>
public sealed class S3BlobStoreTests(S3rverFixture s3) : BlobStoreContract, IClassFixture<S3rverFixture>, IAsyncLifetime
{
    private readonly string _bucket = "contract-" + Guid.NewGuid().ToString("N")[..16];

    private BlobStoreOptions Options(string? bucket = null, Uri? address = null) => new()
    {
        Provider = BlobProviders.S3,
        S3 = new S3BlobStoreOptions
        {
            ServiceUrl = (address ?? s3.Server.Address).ToString(),
            Bucket = bucket ?? _bucket,
            Region = "us-east-1",
            ForcePathStyle = true,
            AccessKeyId = S3rverProcess.AccessKeyId,
            SecretAccessKey = S3rverProcess.SecretAccessKey,
        },
    };

    protected override IBlobStore Store() => new S3BlobStore(Microsoft.Extensions.Options.Options.Create(Options()));

    protected override async Task<IReadOnlyList<string>> StoredKeysAsync()
    {
        using var client = S3BlobStore.CreateClient(Options().S3);
        var listed = await client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = _bucket });
        return [.. (listed.S3Objects ?? []).Select(o => o.Key)];
    }

    public async Task InitializeAsync()
    {
        using var client = S3BlobStore.CreateClient(Options().S3);
        await client.PutBucketAsync(_bucket);
    }

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Blob_IsAnObjectNamedByItsKey_InTheConfiguredBucket()
    {
        var key = await Store().PutAsync("an object"u8.ToArray(), CancellationToken.None);
        Assert.Equal([key], await StoredKeysAsync());
    }

    [Fact]
    public async Task MissingBucket_IsAStartUpError_NamingTheBucket_TheEndpoint_AndTheFix()
    {
        var options = Options(bucket: "no-such-bucket-" + Guid.NewGuid().ToString("N")[..8]);
        var check = new BlobStoreStartupCheck(new S3BlobStore(Microsoft.Extensions.Options.Options.Create(options)));
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => check.StartAsync(CancellationToken.None));
        Assert.Contains($"'{options.S3.Bucket}'", error.Message);
        Assert.Contains(s3.Server.Address.ToString(), error.Message);
        Assert.Contains("does not exist", error.Message);
        Assert.Contains("Blobs:S3:Bucket", error.Message);
        Assert.Contains("mb", error.Message);
    }

    [Fact]
    public async Task ExistingBucket_PassesTheStartUpCheck()
    {
        var check = new BlobStoreStartupCheck(Store());
        await check.StartAsync(CancellationToken.None);
        // The same check refuses a bucket that is not there (above), so passing here means it looked.
        await Assert.ThrowsAsync<InvalidOperationException>(() =>
            new BlobStoreStartupCheck(new S3BlobStore(Microsoft.Extensions.Options.Options.Create(Options(bucket: "absent-" + _bucket)))).StartAsync(CancellationToken.None));
    }

    [Fact]
    public async Task StoppedServer_FailsTheWrite_WithAnIOException_NamingTheEndpoint()
    {
        await using var own = await S3rverProcess.StartAsync("stopping");
        var store = new S3BlobStore(Microsoft.Extensions.Options.Options.Create(Options(bucket: "stopping", address: own.Address)));
        var before = await store.PutAsync("written while it ran"u8.ToArray(), CancellationToken.None);
        Assert.NotNull(await store.OpenReadAsync(before, CancellationToken.None));

        await own.StopAsync();
        Assert.False(own.IsRunning);
        var error = await Assert.ThrowsAsync<IOException>(() => store.PutAsync("written after it stopped"u8.ToArray(), CancellationToken.None));
        Assert.Contains(own.Address.ToString(), error.Message);
        Assert.True(FuseDream.Persistence.TransientErrors.IsTransient(error), "an unreachable store is worth retrying");
    }

    [Fact]
    public void Options_RequireABucket_AndAKnownProvider()
    {
        static string[] Errors(BlobStoreOptions o) =>
            [.. o.Validate(new System.ComponentModel.DataAnnotations.ValidationContext(o)).Select(r => r.ErrorMessage!)];
        Assert.Contains(Errors(new BlobStoreOptions { Provider = "s3", S3 = new() { ServiceUrl = "http://minio:9000" } }),
            e => e.StartsWith("Blobs:S3:Bucket", StringComparison.Ordinal));
        Assert.Contains(Errors(new BlobStoreOptions { Provider = "ftp" }), e => e.Contains("'ftp'", StringComparison.Ordinal));
        Assert.Empty(Errors(new BlobStoreOptions { Provider = "s3", S3 = new() { ServiceUrl = "http://minio:9000", Bucket = "b" } }));
        Assert.Empty(Errors(new BlobStoreOptions()));
    }
}
