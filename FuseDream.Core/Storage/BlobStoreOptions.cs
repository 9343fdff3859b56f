using System.ComponentModel.DataAnnotations;

namespace FuseDream.Storage;

/// <summary>Where blobs live (configuration section <c>Blobs</c>).</summary>
internal sealed class BlobStoreOptions
{
    public const string Section = "Blobs";

    /// <summary>The default directory, relative to the working directory.</summary>
    public const string DefaultDirectory = ".data/blobs";

    /// <summary>
    /// Root directory of the filesystem store; the API and every worker must see the same
    /// directory (a shared volume). Setting <c>Blobs:Directory</c> (env <c>Blobs__Directory</c>).
    /// </summary>
    [Required(ErrorMessage = "Blobs:Directory (env Blobs__Directory) is required: a directory shared by the API and the workers.")]
    public string Directory { get; set; } = DefaultDirectory;
}
