using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;

namespace FuseDream.Access;

/// <summary>
/// The text of an API key, <c>fd_&lt;id&gt;_&lt;secret&gt;</c>: a public id of 64 random bits
/// (16 hex digits) that finds the key's row, and a secret of 256 random bits (base64url) of
/// which only the SHA-256 is stored. A fast hash is enough for a secret this long: nobody can
/// guess 256 random bits, so there is no dictionary to slow down.
/// </summary>
public static class ApiKeyToken
{
    public const string Prefix = "fd_";
    private const int IdBytes = 8, SecretBytes = 32;

    /// <summary>A new key: its id, the whole text (shown once) and the hash to store.</summary>
    public static (string Id, string Token, byte[] SecretHash) Create()
    {
        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(IdBytes));
        var secret = Base64Url(RandomNumberGenerator.GetBytes(SecretBytes));
        return (id, $"{Prefix}{id}_{secret}", Hash(secret));
    }

    /// <summary>Splits <paramref name="token"/> into its id and secret; false when it is not shaped like a key.</summary>
    public static bool TryParse(string? token, [NotNullWhen(true)] out string? id, [NotNullWhen(true)] out string? secret)
    {
        id = secret = null;
        if (token is null || token.Length > 200 || !token.StartsWith(Prefix, StringComparison.Ordinal)) return false;
        var rest = token[Prefix.Length..];
        var separator = rest.IndexOf('_');
        if (separator != IdBytes * 2 || !rest[..separator].All(char.IsAsciiHexDigitLower)) return false;
        id = rest[..separator];
        secret = rest[(separator + 1)..];
        return secret.Length > 0;
    }

    /// <summary>The stored form of a secret.</summary>
    public static byte[] Hash(string secret) => SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(secret));

    /// <summary>Whether <paramref name="secret"/> hashes to <paramref name="storedHash"/>, in time independent of where they differ.</summary>
    public static bool Matches(string secret, byte[] storedHash) => CryptographicOperations.FixedTimeEquals(Hash(secret), storedHash);

    /// <summary>A new webhook signing secret in the Standard Webhooks form, <c>whsec_&lt;base64 of 32 random bytes&gt;</c>.</summary>
    public static string CreateWebhookSecret() => "whsec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
