namespace FuseDream.Models;

public enum VerifyStatus
{
    /// <summary>The file matches its published checksum, the checksum recorded when it was placed, or its manifest.</summary>
    Ok,
    /// <summary>No file at the model's path.</summary>
    Missing,
    /// <summary>The SHA-256 differs from the published or recorded one: the file is damaged or not the right file.</summary>
    ChecksumMismatch,
    /// <summary>The file loads but its tensors are not those of this model (e.g. the 512 checkpoint named 256).</summary>
    ManifestMismatch,
    /// <summary>The file cannot be read as a checkpoint at all (truncated, an HTML page, another format).</summary>
    Unreadable,
}

/// <summary>Outcome of checking one model file.</summary>
/// <param name="Method">How it was checked: the published SHA-256, the recorded SHA-256, or loading it against the manifest.</param>
/// <param name="Message">One sentence for people, saying what was found and, on failure, what to do.</param>
public sealed record VerifyResult(string ModelId, string Path, VerifyStatus Status, string? Sha256, string Method, string Message)
{
    public bool IsValid => Status == VerifyStatus.Ok;
}
