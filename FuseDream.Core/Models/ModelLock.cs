namespace FuseDream.Models;

/// <summary>
/// An exclusive lock on <c>&lt;store&gt;/&lt;id&gt;.lock</c>, so two pulls of one model (two
/// processes, or two tasks of one process) never write the same file. .NET takes an OS-level
/// exclusive lock for <see cref="FileShare.None"/> (flock on Unix), released when the process
/// dies, so a crashed pull leaves no stale lock. The file itself is left in place: deleting it
/// would let a third pull lock a new file while the second still holds the old one.
/// </summary>
internal sealed class ModelLock : IDisposable
{
    private readonly FileStream _stream;

    private ModelLock(FileStream stream) => _stream = stream;

    public static ModelLock? TryAcquire(string path)
    {
        try
        {
            return new ModelLock(new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
        }
        catch (IOException e) when (e is not DirectoryNotFoundException and not PathTooLongException)
        {
            return null;
        }
    }

    public static async Task<ModelLock> AcquireAsync(string path, TimeSpan pollInterval, Action? onWait, CancellationToken ct)
    {
        var waited = false;
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            if (TryAcquire(path) is { } acquired)
                return acquired;
            if (!waited)
            {
                onWait?.Invoke();
                waited = true;
            }
            await Task.Delay(pollInterval, ct).ConfigureAwait(false);
        }
    }

    public void Dispose() => _stream.Dispose();
}
