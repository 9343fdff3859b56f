using System.ComponentModel.DataAnnotations;

namespace FuseDream.Storage;

/// <summary>Where blobs live (configuration section <c>Blobs</c>).</summary>
internal sealed class BlobStoreOptions : IValidatableObject
{
    public const string Section = "Blobs";

    /// <summary>The default directory, relative to the working directory.</summary>
    public const string DefaultDirectory = ".data/blobs";

    /// <summary>
    /// Which store: <c>filesystem</c> (default: a directory every process mounts) or <c>s3</c>
    /// (an S3-compatible bucket every machine reaches). Setting <c>Blobs:Provider</c>.
    /// </summary>
    public string Provider { get; set; } = BlobProviders.FileSystem;

    /// <summary>
    /// Root directory of the filesystem store; the API and every worker must see the same
    /// directory (a shared volume). Setting <c>Blobs:Directory</c> (env <c>Blobs__Directory</c>).
    /// </summary>
    [Required(ErrorMessage = "Blobs:Directory (env Blobs__Directory) is required: a directory shared by the API and the workers.")]
    public string Directory { get; set; } = DefaultDirectory;

    /// <summary>The bucket of the <c>s3</c> provider (<c>Blobs:S3:*</c>).</summary>
    public S3BlobStoreOptions S3 { get; set; } = new();

    public bool IsS3 => string.Equals(Provider, BlobProviders.S3, StringComparison.OrdinalIgnoreCase);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!IsS3 && !string.Equals(Provider, BlobProviders.FileSystem, StringComparison.OrdinalIgnoreCase))
            yield return new($"Blobs:Provider is '{Provider}': use '{BlobProviders.FileSystem}' or '{BlobProviders.S3}'.", [nameof(Provider)]);
        if (!IsS3) yield break;
        if (string.IsNullOrWhiteSpace(S3.Bucket))
            yield return new("Blobs:S3:Bucket (env Blobs__S3__Bucket) is required with Blobs:Provider=s3.", ["S3.Bucket"]);
        if (S3.ServiceUrl is { Length: > 0 } url && !Uri.TryCreate(url, UriKind.Absolute, out _))
            yield return new($"Blobs:S3:ServiceUrl is '{url}', which is not an absolute URL (e.g. http://minio:9000).", ["S3.ServiceUrl"]);
        if (string.IsNullOrWhiteSpace(S3.ServiceUrl) && string.IsNullOrWhiteSpace(S3.Region))
            yield return new("Blobs:S3 needs ServiceUrl (an S3-compatible server such as MinIO) or Region (AWS S3).", ["S3.ServiceUrl"]);
        if (string.IsNullOrEmpty(S3.AccessKeyId) != string.IsNullOrEmpty(S3.SecretAccessKey))
            yield return new("Blobs:S3:AccessKeyId and Blobs:S3:SecretAccessKey are set together (or neither: the AWS environment variables or profile are used).", ["S3.AccessKeyId"]);
    }
}

/// <summary>The names <c>Blobs:Provider</c> accepts.</summary>
internal static class BlobProviders
{
    public const string FileSystem = "filesystem";
    public const string S3 = "s3";
}

/// <summary>An S3-compatible bucket (configuration section <c>Blobs:S3</c>).</summary>
internal sealed class S3BlobStoreOptions
{
    /// <summary>The endpoint of an S3-compatible server (<c>http://minio:9000</c>); unset: AWS S3 in <see cref="Region"/>.</summary>
    public string? ServiceUrl { get; set; }

    /// <summary>The bucket; it must exist (the store does not create it, so a typo is a start-up error, not a new bucket).</summary>
    public string Bucket { get; set; } = "";

    /// <summary>The signing region (<c>us-east-1</c> for MinIO unless it is configured otherwise).</summary>
    public string? Region { get; set; } = "us-east-1";

    /// <summary>Path-style addressing (<c>http://host/bucket/key</c>), which MinIO and most self-hosted servers need.</summary>
    public bool ForcePathStyle { get; set; } = true;

    /// <summary>Credentials; unset: the AWS SDK's usual chain (<c>AWS_ACCESS_KEY_ID</c>/<c>AWS_SECRET_ACCESS_KEY</c>, profile, instance role).</summary>
    public string? AccessKeyId { get; set; }

    public string? SecretAccessKey { get; set; }

    /// <summary>The endpoint as messages name it.</summary>
    public string Endpoint => string.IsNullOrWhiteSpace(ServiceUrl) ? $"AWS S3 ({Region})" : ServiceUrl!;
}
