namespace FuseDream.Worker;

/// <summary>
/// What a client reads in a failed generation's <c>error</c>: a short category and the
/// generation's id, which every log line of the job carries (<c>GenerationId</c>). The
/// exception itself — file paths, driver messages, host and user names — goes to the log only.
/// </summary>
internal static class FailureReasons
{
    public const string NotStored = "The worker could not store the image";
    public const string DiskFull = "The worker's disk is full";
    public const string ModelsFailed = "The worker could not run the models";
    public const string ClipNotLoaded = "The worker that took this generation has not loaded every CLIP its 'clips' name (see /v1/models for who has which)";
    public const string StorageKeptFailing = "the worker's database or disk kept failing";
    public const string WorkerLost = "The workers running this generation died {0} times (out of memory, killed, or the machine lost); it is not run again";
    public const string Retrying = "Retrying after a transient failure of the worker's database or disk";

    /// <summary>The client's text: the category, then where an operator finds the details.</summary>
    public static string For(string category, Guid generationId) =>
        $"{category}. The details are in the worker's log under generation {generationId}.";
}
