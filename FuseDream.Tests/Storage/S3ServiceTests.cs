using System.Net;
using System.Security.Cryptography;
using Amazon.S3.Model;
using FuseDream.Storage;
using FuseDream.Tests.Api;
using FuseDream.Tests.Support;

namespace FuseDream.Tests.Storage;

/// <summary>
/// The whole service with <c>Blobs:Provider=s3</c> on a real S3-protocol server: a generation
/// submitted through the API is stored in the bucket and served back, streamed, with its key
/// as a strong ETag and immutable caching.
/// </summary>
public sealed class S3ServiceTests(S3ServiceTests.Factory factory) : IClassFixture<S3ServiceTests.Factory>
{
    public sealed class Factory : S3ServiceFactory;

    [Fact]
    public async Task Generation_IsStoredInTheBucket_AndServedWithItsETag()
    {
        using var client = factory.CreateClient();
        var id = (await client.PostAsync(GenerationClient.Quick("a lighthouse kept in a bucket", previewEvery: 2))).Id();
        var done = await client.WaitAsync(id);
        Assert.Equal("succeeded", done.Status());

        var key = await factory.Probe.ImageKeyAsync(id);
        Assert.NotNull(key);
        // Nothing went to the file-system store: the bucket holds the image and the previews.
        Assert.Empty(factory.Probe.BlobKeys());
        var options = new S3BlobStoreOptions
        {
            ServiceUrl = factory.S3.Address.ToString(), Bucket = factory.S3.Bucket, ForcePathStyle = true,
            AccessKeyId = S3rverProcess.AccessKeyId, SecretAccessKey = S3rverProcess.SecretAccessKey,
        };
        using var s3 = S3BlobStore.CreateClient(options);
        var objects = (await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = factory.S3.Bucket })).S3Objects ?? [];
        Assert.Contains(key, objects.Select(o => o.Key));
        foreach (var previewKey in await factory.Probe.PreviewKeysAsync(id))
            Assert.Contains(previewKey, objects.Select(o => o.Key));

        using var image = await client.GetAsync($"/v1/generations/{id}/image");
        Assert.Equal(HttpStatusCode.OK, image.StatusCode);
        var png = await image.Content.ReadAsByteArrayAsync();
        Assert.Equal(key, Convert.ToHexStringLower(SHA256.HashData(png)));
        Assert.Equal($"\"{key}\"", image.Headers.ETag?.ToString());
        Assert.Contains("immutable", image.Headers.CacheControl?.ToString());
        Assert.Equal("image/png", image.Content.Headers.ContentType?.MediaType);

        using var conditional = new HttpRequestMessage(HttpMethod.Get, $"/v1/generations/{id}/image");
        conditional.Headers.TryAddWithoutValidation("If-None-Match", $"\"{key}\"");
        using var notModified = await client.SendAsync(conditional);
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
    }
}
