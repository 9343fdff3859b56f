using Npgsql;

namespace FuseDream.Persistence;

/// <summary>Failures worth retrying: the database or the disk, not the request.</summary>
public static class TransientErrors
{
    public static bool IsTransient(Exception ex) => ex switch
    {
        // 57P*: the server ended the session (pg_terminate_backend, shutdown, restart).
        PostgresException pg => pg.IsTransient || pg.SqlState.StartsWith("57P", StringComparison.Ordinal),
        NpgsqlException npgsql => npgsql.IsTransient || npgsql.InnerException is IOException or System.Net.Sockets.SocketException,
        IOException or TimeoutException => true,
        _ => false,
    };
}
