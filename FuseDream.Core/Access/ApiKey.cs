namespace FuseDream.Access;

/// <summary>One row of <c>fusedream.api_keys</c>, without its secret's hash.</summary>
public sealed record ApiKey(
    string Id, string Name, IReadOnlyList<string> Scopes, DateTimeOffset CreatedAt, DateTimeOffset? ExpiresAt, DateTimeOffset? RevokedAt)
{
    /// <summary>Whether the key grants <paramref name="scope"/> (admin grants all).</summary>
    public bool Allows(string scope) => ApiKeyScopes.Allows(Scopes, scope);

    public bool IsAdmin => Scopes.Contains(ApiKeyScopes.Admin, StringComparer.Ordinal);
}

/// <summary>A key just created: the row, the key's text and its webhook secret, both shown only this once.</summary>
public sealed record CreatedApiKey(ApiKey Key, string Token, string WebhookSecret);

/// <summary>Why a presented key was refused (or null when it was accepted).</summary>
public enum ApiKeyRefusal
{
    Malformed,
    Unknown,
    Expired,
    Revoked,
}

/// <summary>What <see cref="ApiKeyStore.AuthenticateAsync"/> found: the key, or why there is none.</summary>
public sealed record ApiKeyCheck(ApiKey? Key, ApiKeyRefusal? Refusal, string? WebhookSecret = null)
{
    public string Reason => Refusal switch
    {
        null => "accepted",
        ApiKeyRefusal.Malformed => "the key is not an API key of this service (expected fd_<id>_<secret>)",
        ApiKeyRefusal.Unknown => "no such API key",
        ApiKeyRefusal.Expired => $"the API key expired at {Key?.ExpiresAt:O}",
        ApiKeyRefusal.Revoked => $"the API key was revoked at {Key?.RevokedAt:O}",
        _ => "refused",
    };
}
