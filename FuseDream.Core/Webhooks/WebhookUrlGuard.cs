using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Options;

namespace FuseDream.Webhooks;

/// <summary>
/// Keeps webhooks from reaching inside the network (SSRF): a webhook must be an absolute https
/// URL whose host resolves only to public addresses; loopback, private (RFC 1918, unique-local),
/// link-local (cloud metadata at 169.254.169.254 among them), CGNAT, multicast and unspecified
/// addresses are refused unless <see cref="WebhookOptions.AllowedHosts"/> names the host. The
/// check runs when the request is submitted, and again on every connection a delivery opens
/// (<see cref="ConnectAsync"/> connects only to an address it has just checked), so a name that
/// is re-pointed after the submit (DNS rebinding) gains nothing.
/// </summary>
public sealed class WebhookUrlGuard(IOptions<WebhookOptions> options)
{
    private readonly HashSet<string> _allowed = new(options.Value.AllowedHosts.Select(h => h.Trim()), StringComparer.OrdinalIgnoreCase);

    /// <summary>Why <paramref name="url"/> may not be a webhook, or null when it may.</summary>
    public async Task<string?> ProblemAsync(string url, CancellationToken cancellationToken)
    {
        if (url.Length > 2000 || !Uri.TryCreate(url, UriKind.Absolute, out var uri))
            return "must be an absolute https URL of at most 2000 characters";
        var allowListed = _allowed.Contains(uri.Host) || _allowed.Contains(uri.IdnHost);
        if (uri.Scheme != Uri.UriSchemeHttps && !(allowListed && uri.Scheme == Uri.UriSchemeHttp))
            return $"must be an https URL (got {uri.Scheme})";
        if (!string.IsNullOrEmpty(uri.UserInfo))
            return "must not carry credentials in the URL";
        if (allowListed) return null;
        IPAddress[] addresses;
        try
        {
            addresses = await ResolveAsync(uri.IdnHost, cancellationToken);
        }
        catch (SocketException)
        {
            return $"host '{uri.Host}' could not be resolved";
        }
        if (addresses.Length == 0) return $"host '{uri.Host}' could not be resolved";
        return addresses.FirstOrDefault(IsInternal) is { } inside
            ? $"host '{uri.Host}' resolves to {inside}, a {Describe(inside)} address; webhooks go only to public addresses unless Webhooks:AllowedHosts names the host"
            : null;
    }

    /// <summary>
    /// A <see cref="SocketsHttpHandler.ConnectCallback"/>: resolves the host now, refuses an
    /// internal address (unless the host is allow-listed), and connects to the address it checked.
    /// </summary>
    public async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var host = context.DnsEndPoint.Host;
        var addresses = await ResolveAsync(host, cancellationToken);
        if (!_allowed.Contains(host) && addresses.FirstOrDefault(IsInternal) is { } inside)
            throw new HttpRequestException($"refused: '{host}' now resolves to {inside}, a {Describe(inside)} address");
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(addresses, context.DnsEndPoint.Port, cancellationToken);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static async Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken) =>
        IPAddress.TryParse(host.Trim('[', ']'), out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, cancellationToken);

    /// <summary>Whether <paramref name="address"/> is not on the public internet.</summary>
    public static bool IsInternal(IPAddress address) => Describe(address) is not null;

    private static string? Describe(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        if (IPAddress.IsLoopback(address)) return "loopback";
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            var b = address.GetAddressBytes();
            return b[0] switch
            {
                0 => "unspecified",
                10 => "private",
                100 when b[1] is >= 64 and <= 127 => "carrier-grade NAT",
                169 when b[1] == 254 => "link-local (cloud metadata)",
                172 when b[1] is >= 16 and <= 31 => "private",
                192 when b[1] == 168 => "private",
                192 when b[1] == 0 && b[2] == 0 => "IETF protocol",
                198 when b[1] is 18 or 19 => "benchmarking",
                >= 224 => "multicast or reserved",
                _ => null,
            };
        }
        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            if (address.Equals(IPAddress.IPv6None) || address.Equals(IPAddress.IPv6Any)) return "unspecified";
            if (address.IsIPv6LinkLocal || address.IsIPv6SiteLocal) return "link-local";
            if (address.IsIPv6Multicast) return "multicast";
            var b = address.GetAddressBytes();
            if ((b[0] & 0xfe) == 0xfc) return "unique-local (private)"; // fc00::/7, fd00:ec2::254 among them
            if (address.IsIPv6Teredo || (b[0] == 0x20 && b[1] == 0x02)) return "tunnel (6to4 or Teredo)";
            if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b) return "NAT64";
            return null;
        }
        return "non-IP";
    }
}
