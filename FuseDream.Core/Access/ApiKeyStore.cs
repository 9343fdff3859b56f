using Npgsql;
using NpgsqlTypes;

namespace FuseDream.Access;

/// <summary>
/// The API keys in <c>fusedream.api_keys</c>: create (the text is returned once, only its
/// hash is stored), list, revoke, and check a presented key. Nothing is cached: every request
/// reads the key's row (one primary-key lookup), so a revocation holds from the next request
/// on, in every process.
/// </summary>
public sealed class ApiKeyStore(NpgsqlDataSource dataSource, TimeProvider? clock = null)
{
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;
    private const string Columns = "id, name, scopes, created_at, expires_at, revoked_at";

    /// <summary>Creates a key with <paramref name="scopes"/>; the returned token and webhook secret are never shown again.</summary>
    public async Task<CreatedApiKey> CreateAsync(string name, IReadOnlyCollection<string> scopes, DateTimeOffset? expiresAt, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(scopes);
        if (scopes.Count == 0) throw new ArgumentException($"A key needs at least one scope: {string.Join(", ", ApiKeyScopes.All)}.", nameof(scopes));
        if (ApiKeyScopes.Unknown(scopes) is { Count: > 0 } unknown)
            throw new ArgumentException($"Unknown scope(s) {string.Join(", ", unknown)}; known scopes: {string.Join(", ", ApiKeyScopes.All)}.", nameof(scopes));
        var (id, token, hash) = ApiKeyToken.Create();
        var webhookSecret = ApiKeyToken.CreateWebhookSecret();
        await using var command = dataSource.CreateCommand(
            $"""
            insert into fusedream.api_keys (id, name, secret_sha256, scopes, webhook_secret, expires_at)
            values (@id, @name, @hash, @scopes, @webhook, @expires)
            returning {Columns}
            """);
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("name", name.Trim());
        command.Parameters.AddWithValue("hash", hash);
        command.Parameters.AddWithValue("scopes", scopes.Distinct(StringComparer.Ordinal).ToArray());
        command.Parameters.AddWithValue("webhook", webhookSecret);
        command.Parameters.Add(new NpgsqlParameter("expires", NpgsqlDbType.TimestampTz) { Value = (object?)expiresAt ?? DBNull.Value });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return new CreatedApiKey(Read(reader), token, webhookSecret);
    }

    /// <summary>Every key, newest first (revoked ones included, marked).</summary>
    public async Task<IReadOnlyList<ApiKey>> ListAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"select {Columns} from fusedream.api_keys order by created_at desc, id");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var list = new List<ApiKey>();
        while (await reader.ReadAsync(cancellationToken)) list.Add(Read(reader));
        return list;
    }

    public async Task<ApiKey?> GetAsync(string id, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"select {Columns} from fusedream.api_keys where id = @id");
        command.Parameters.AddWithValue("id", id);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    /// <summary>Revokes the key (at once: nothing caches keys); revoking twice keeps the first time. Null when there is no such key.</summary>
    public async Task<ApiKey?> RevokeAsync(string id, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            $"update fusedream.api_keys set revoked_at = coalesce(revoked_at, now()) where id = @id returning {Columns}");
        command.Parameters.AddWithValue("id", id);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    /// <summary>The webhook signing secret of key <paramref name="id"/>, or null.</summary>
    public async Task<string?> WebhookSecretAsync(string id, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("select webhook_secret from fusedream.api_keys where id = @id");
        command.Parameters.AddWithValue("id", id);
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }

    /// <summary>
    /// Checks a presented key: its shape, its row, its secret (compared in constant time), its
    /// expiry and revocation. A wrong secret for a known id reads as unknown, so a caller cannot
    /// tell which ids exist.
    /// </summary>
    public async Task<ApiKeyCheck> AuthenticateAsync(string? token, CancellationToken cancellationToken)
    {
        if (!ApiKeyToken.TryParse(token, out var id, out var secret)) return new(null, ApiKeyRefusal.Malformed);
        await using var command = dataSource.CreateCommand($"select {Columns}, secret_sha256 from fusedream.api_keys where id = @id");
        command.Parameters.AddWithValue("id", id);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken)) return new(null, ApiKeyRefusal.Unknown);
        var key = Read(reader);
        if (!ApiKeyToken.Matches(secret, reader.GetFieldValue<byte[]>(6))) return new(null, ApiKeyRefusal.Unknown);
        if (key.RevokedAt is not null) return new(key, ApiKeyRefusal.Revoked);
        if (key.ExpiresAt is { } expires && expires <= _clock.GetUtcNow()) return new(key, ApiKeyRefusal.Expired);
        return new(key, null);
    }

    private static ApiKey Read(NpgsqlDataReader r) => new(
        r.GetString(0), r.GetString(1), r.GetFieldValue<string[]>(2), r.GetFieldValue<DateTimeOffset>(3),
        r.IsDBNull(4) ? null : r.GetFieldValue<DateTimeOffset>(4), r.IsDBNull(5) ? null : r.GetFieldValue<DateTimeOffset>(5));
}
