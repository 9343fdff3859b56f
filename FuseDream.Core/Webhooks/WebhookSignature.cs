using System.Security.Cryptography;
using System.Text;

namespace FuseDream.Webhooks;

/// <summary>
/// The Standard Webhooks signature (standardwebhooks.com): HMAC-SHA256, keyed with the base64
/// part of a <c>whsec_…</c> secret, over <c>{webhook-id}.{webhook-timestamp}.{body}</c>; sent as
/// <c>webhook-signature: v1,&lt;base64&gt;</c>.
/// </summary>
public static class WebhookSignature
{
    public const string IdHeader = "webhook-id", TimestampHeader = "webhook-timestamp", SignatureHeader = "webhook-signature";

    public static string Sign(string secret, string id, long timestamp, string body)
    {
        ArgumentNullException.ThrowIfNull(secret);
        var key = Convert.FromBase64String(secret.StartsWith("whsec_", StringComparison.Ordinal) ? secret["whsec_".Length..] : secret);
        var mac = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes($"{id}.{timestamp}.{body}"));
        return "v1," + Convert.ToBase64String(mac);
    }
}
