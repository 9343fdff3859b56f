using System.Diagnostics;
using Npgsql;

namespace FuseDream.Tests.Support;

/// <summary>
/// A PostgreSQL server of one test class's own: a fresh cluster (<c>initdb</c>) in a temporary
/// directory, listening on a free port of 127.0.0.1, run as the <c>postgres</c> user with
/// <c>pg_ctl</c>. A test can stop and start it (a database restart) without touching the
/// machine's shared cluster, which every other test class (and anyone else's tests) uses at
/// the same moment. Needs root (the tests run as root) and the PostgreSQL server binaries
/// that scripts/bootstrap.sh installs.
/// </summary>
public sealed class PrivatePostgres : IAsyncDisposable
{
    private readonly string _directory;
    private readonly string _bin;

    private PrivatePostgres(string directory, string bin, int port)
    {
        _directory = directory;
        _bin = bin;
        Port = port;
    }

    public int Port { get; }

    /// <summary>The superuser's connection to <paramref name="database"/> (trust authentication on 127.0.0.1).</summary>
    public string ConnectionString(string database = "postgres") =>
        $"Host=127.0.0.1;Port={Port};Username=postgres;Database={database};Timeout=5;Command Timeout=30";

    public static async Task<PrivatePostgres> StartAsync()
    {
        Assert.True(Environment.UserName == "root", "a private PostgreSQL cluster needs root (to run as the postgres user)");
        var bin = Directory.GetDirectories("/usr/lib/postgresql")
            .Select(d => Path.Combine(d, "bin"))
            .Where(d => File.Exists(Path.Combine(d, "initdb")))
            .OrderByDescending(d => int.TryParse(Path.GetFileName(Path.GetDirectoryName(d)), out var v) ? v : 0)
            .FirstOrDefault();
        Assert.True(bin is not null, "no PostgreSQL server binaries under /usr/lib/postgresql: run scripts/bootstrap.sh");
        var directory = Path.Combine(Path.GetTempPath(), "fusedream-pg-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(directory);
        await RunAsync("chown", "postgres:postgres", directory);
        var port = FreePort();
        var server = new PrivatePostgres(directory, bin, port);
        await server.AsPostgresAsync("initdb", "-D", Path.Combine(directory, "data"), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8");
        await server.StartServerAsync();
        return server;
    }

    /// <summary>Starts the server (again) and waits until it accepts connections.</summary>
    public Task StartServerAsync() =>
        AsPostgresAsync("pg_ctl", "-D", Path.Combine(_directory, "data"), "-w", "-t", "60", "-l", Path.Combine(_directory, "server.log"),
            "-o", $"-p {Port} -k {_directory} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200", "start");

    /// <summary>Stops the server at once (fast shutdown: sessions are ended, as in a restart).</summary>
    public Task StopServerAsync() =>
        AsPostgresAsync("pg_ctl", "-D", Path.Combine(_directory, "data"), "-w", "-t", "60", "-m", "fast", "stop");

    public bool IsAcceptingConnections()
    {
        try
        {
            using var connection = new NpgsqlConnection(ConnectionString() + ";Pooling=false");
            connection.Open();
            return true;
        }
        catch (NpgsqlException)
        {
            return false;
        }
    }

    public async Task<string> CreateDatabaseAsync(string name)
    {
        await using (var connection = new NpgsqlConnection(ConnectionString() + ";Pooling=false"))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"create database \"{name}\"", connection);
            await command.ExecuteNonQueryAsync();
        }
        return ConnectionString(name);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await AsPostgresAsync("pg_ctl", "-D", Path.Combine(_directory, "data"), "-w", "-m", "immediate", "stop");
        }
        catch (Exception ex) when (ex is InvalidOperationException or Xunit.Sdk.XunitException)
        {
            // Already stopped.
        }
        try { Directory.Delete(_directory, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private Task AsPostgresAsync(string tool, params string[] args) =>
        RunAsync("runuser", ["-u", "postgres", "--", Path.Combine(_bin, tool), .. args]);

    private static async Task RunAsync(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = "/tmp" };
        foreach (var arg in args) start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited {process.ExitCode}: {await stdout}{await stderr}");
    }

    private static int FreePort()
    {
        var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        probe.Start();
        var port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }
}
