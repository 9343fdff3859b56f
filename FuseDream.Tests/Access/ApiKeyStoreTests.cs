using System.Security.Cryptography;
using System.Text;
using FuseDream.Access;
using FuseDream.Persistence;
using FuseDream.Tests.Foundation;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace FuseDream.Tests.Access;

/// <summary>The keys on a real database: what is stored, and how a presented key is judged.</summary>
public class ApiKeyStoreTests : IAsyncLifetime
{
    private NpgsqlDataSource _dataSource = null!;
    private ApiKeyStore _keys = null!;

    public async Task InitializeAsync()
    {
        var connectionString = await TestDatabase.CreateFreshAsync(nameof(ApiKeyStoreTests));
        _dataSource = NpgsqlDataSource.Create(connectionString);
        await new DatabaseMigrator(_dataSource, NullLogger<DatabaseMigrator>.Instance).MigrateAsync(CancellationToken.None);
        _keys = new ApiKeyStore(_dataSource);
    }

    public async Task DisposeAsync() => await _dataSource.DisposeAsync();

    [Fact]
    public async Task StoredRow_HoldsOnlyTheSecretsHash_NeverTheKey()
    {
        var created = await _keys.CreateAsync("hash check", [ApiKeyScopes.Read], null, CancellationToken.None);
        Assert.True(ApiKeyToken.TryParse(created.Token, out var id, out var secret));
        Assert.Equal(created.Key.Id, id);
        // At least 128 random bits in the secret: 32 bytes as base64url are 43 characters.
        Assert.True(secret.Length >= 43, secret);

        await using var command = _dataSource.CreateCommand("select row_to_json(k)::text, secret_sha256 from fusedream.api_keys k where id = @id");
        command.Parameters.AddWithValue("id", id);
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        var row = reader.GetString(0);
        Assert.DoesNotContain(secret, row, StringComparison.Ordinal);
        Assert.DoesNotContain(created.Token, row, StringComparison.Ordinal);
        Assert.Equal(SHA256.HashData(Encoding.UTF8.GetBytes(secret)), reader.GetFieldValue<byte[]>(1));
    }

    [Fact]
    public async Task Authenticate_AcceptsTheKey_AndRefusesAWrongSecretAsUnknown()
    {
        var created = await _keys.CreateAsync("auth", [ApiKeyScopes.Generate, ApiKeyScopes.Read], null, CancellationToken.None);
        var ok = await _keys.AuthenticateAsync(created.Token, CancellationToken.None);
        Assert.Null(ok.Refusal);
        Assert.Equal(["generate", "read"], ok.Key!.Scopes);

        // Same id, one character of the secret changed.
        var last = created.Token[^1];
        var forged = created.Token[..^1] + (last == 'A' ? 'B' : 'A');
        var refused = await _keys.AuthenticateAsync(forged, CancellationToken.None);
        Assert.Equal(ApiKeyRefusal.Unknown, refused.Refusal);
        Assert.Null(refused.Key);

        Assert.Equal(ApiKeyRefusal.Malformed, (await _keys.AuthenticateAsync("not-a-key", CancellationToken.None)).Refusal);
        Assert.Equal(ApiKeyRefusal.Unknown, (await _keys.AuthenticateAsync("fd_0123456789abcdef_secret", CancellationToken.None)).Refusal);
    }

    [Fact]
    public async Task Revoke_TakesEffectOnTheNextCheck_AndExpiredKeysAreRefused()
    {
        var created = await _keys.CreateAsync("revoke", [ApiKeyScopes.Read], null, CancellationToken.None);
        Assert.Null((await _keys.AuthenticateAsync(created.Token, CancellationToken.None)).Refusal);
        Assert.NotNull((await _keys.RevokeAsync(created.Key.Id, CancellationToken.None))!.RevokedAt);
        Assert.Equal(ApiKeyRefusal.Revoked, (await _keys.AuthenticateAsync(created.Token, CancellationToken.None)).Refusal);
        Assert.Null(await _keys.RevokeAsync("0000000000000000", CancellationToken.None));

        var expiring = await _keys.CreateAsync("expiry", [ApiKeyScopes.Read], DateTimeOffset.UtcNow.AddHours(1), CancellationToken.None);
        Assert.Null((await _keys.AuthenticateAsync(expiring.Token, CancellationToken.None)).Refusal);
        var later = new ApiKeyStore(_dataSource, new FixedClock(DateTimeOffset.UtcNow.AddHours(2)));
        var check = await later.AuthenticateAsync(expiring.Token, CancellationToken.None);
        Assert.Equal(ApiKeyRefusal.Expired, check.Refusal);
        Assert.Contains("expired", check.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Create_RefusesUnknownScopes_AndTheDatabaseRefusesThemToo()
    {
        var ex = await Assert.ThrowsAsync<ArgumentException>(() => _keys.CreateAsync("bad", ["write"], null, CancellationToken.None));
        Assert.Contains("write", ex.Message, StringComparison.Ordinal);
        await using var command = _dataSource.CreateCommand(
            "insert into fusedream.api_keys (id, name, secret_sha256, scopes, webhook_secret) values ('x', 'x', sha256('x'), array['write'], 'w')");
        await Assert.ThrowsAsync<PostgresException>(() => command.ExecuteNonQueryAsync());
    }

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
