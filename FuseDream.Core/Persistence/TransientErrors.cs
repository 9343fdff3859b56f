using Npgsql;

namespace FuseDream.Persistence;

/// <summary>
/// Failures worth retrying: the database or the disk, not the request. Not every I/O error
/// is a hiccup: a full disk and a missing file or directory stay that way, so retrying them
/// only repeats the work that led there (a whole GPU run) to fail the same way.
/// </summary>
public static class TransientErrors
{
    public static bool IsTransient(Exception ex) => ex switch
    {
        // 57P*: the server ended the session (pg_terminate_backend, shutdown, restart).
        PostgresException pg => pg.IsTransient || pg.SqlState.StartsWith("57P", StringComparison.Ordinal),
        NpgsqlException npgsql => npgsql.IsTransient || npgsql.InnerException is IOException or System.Net.Sockets.SocketException,
        IOException io when IsDiskFull(io) || IsMissingFile(io) => false,
        IOException or TimeoutException => true,
        _ => false,
    };

    /// <summary>
    /// No space (or quota) left on the device. .NET gives the errno as the HResult on Unix
    /// (ENOSPC 28, EDQUOT 122) and the Win32 error as an HRESULT on Windows (ERROR_DISK_FULL
    /// 0x70, ERROR_HANDLE_DISK_FULL 0x27).
    /// </summary>
    public static bool IsDiskFull(Exception ex) => ex is IOException io && (OperatingSystem.IsWindows()
        ? io.HResult is unchecked((int)0x80070070) or unchecked((int)0x80070027)
        : io.HResult is 28 or 122);

    /// <summary>A file or directory that is not there (a model file, a blob directory).</summary>
    public static bool IsMissingFile(Exception ex) =>
        ex is FileNotFoundException or DirectoryNotFoundException or DriveNotFoundException;
}
