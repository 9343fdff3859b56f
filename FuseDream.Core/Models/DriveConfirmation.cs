using System.Net;
using System.Text;
using System.Text.RegularExpressions;

namespace FuseDream.Models;

/// <summary>
/// Google Drive answers a direct download of a large file with an HTML page ("can't scan this
/// file for viruses") instead of the file. The page carries the real download link: today a GET
/// form to drive.usercontent.google.com with hidden id/export/confirm/uuid fields, earlier a
/// link with a <c>confirm=</c> token. This finds that link; nothing here is specific to Google's
/// host names, so a mirror that imitates the page works the same way.
/// </summary>
internal static partial class DriveConfirmation
{
    /// <summary>The URL to request next, or null when the page offers no download confirmation.</summary>
    public static Uri? TryFindDownloadUrl(string html, Uri pageUri)
    {
        ArgumentNullException.ThrowIfNull(html);
        ArgumentNullException.ThrowIfNull(pageUri);

        foreach (Match form in FormRegex().Matches(html))
        {
            var attributes = form.Groups["attrs"].Value;
            var inputs = HiddenInputs(form.Groups["body"].Value);
            var isDownloadForm = Attribute(attributes, "id") == "download-form" || inputs.Any(i => i.Name == "confirm");
            if (!isDownloadForm)
                continue;
            var method = Attribute(attributes, "method");
            if (method is not null && !method.Equals("get", StringComparison.OrdinalIgnoreCase))
                continue;
            var action = Attribute(attributes, "action");
            var target = string.IsNullOrEmpty(action) ? pageUri : new Uri(pageUri, action);
            var query = new StringBuilder();
            foreach (var (name, value) in inputs)
            {
                query.Append(query.Length == 0 ? "" : "&")
                     .Append(Uri.EscapeDataString(name)).Append('=').Append(Uri.EscapeDataString(value));
            }
            return new UriBuilder(target) { Query = query.ToString() }.Uri;
        }

        // Older page: <a id="uc-download-link" href="/uc?export=download&amp;confirm=AbCd&amp;id=...">
        foreach (Match link in HrefRegex().Matches(html))
        {
            var href = WebUtility.HtmlDecode(link.Groups["href"].Value);
            if (href.Contains("confirm=", StringComparison.Ordinal))
                return new Uri(pageUri, href);
        }

        // Oldest page: only the token appears (e.g. in script); add it to the original request.
        var token = TokenRegex().Match(html);
        if (token.Success)
        {
            var separator = string.IsNullOrEmpty(pageUri.Query) ? "?" : "&";
            return new Uri(pageUri + separator + "confirm=" + Uri.EscapeDataString(token.Groups["token"].Value));
        }
        return null;
    }

    /// <summary>Google Drive's "Too many users have viewed or downloaded this file recently" page (or its title "Quota exceeded").</summary>
    public static bool IsQuotaExceeded(string html) =>
        html.Contains("Too many users have viewed or downloaded this file recently", StringComparison.OrdinalIgnoreCase)
        || (Title(html) ?? "").Contains("Quota exceeded", StringComparison.OrdinalIgnoreCase);

    /// <summary>The page title, to say what a server sent instead of the file (quota page, login page...).</summary>
    public static string? Title(string html)
    {
        var match = TitleRegex().Match(html);
        return match.Success ? WebUtility.HtmlDecode(match.Groups["title"].Value).Trim() : null;
    }

    private static List<(string Name, string Value)> HiddenInputs(string formBody)
    {
        var result = new List<(string, string)>();
        foreach (Match input in InputRegex().Matches(formBody))
        {
            var attrs = input.Groups["attrs"].Value;
            var type = Attribute(attrs, "type");
            var name = Attribute(attrs, "name");
            if (name is null || (type is not null && !type.Equals("hidden", StringComparison.OrdinalIgnoreCase)))
                continue;
            result.Add((name, Attribute(attrs, "value") ?? ""));
        }
        return result;
    }

    private static string? Attribute(string attributes, string name)
    {
        var match = Regex.Match(attributes, $@"\b{name}\s*=\s*(?:""(?<v>[^""]*)""|'(?<v>[^']*)'|(?<v>[^\s>]+))", RegexOptions.IgnoreCase);
        return match.Success ? WebUtility.HtmlDecode(match.Groups["v"].Value) : null;
    }

    [GeneratedRegex(@"<form\b(?<attrs>[^>]*)>(?<body>.*?)</form>", RegexOptions.IgnoreCase | RegexOptions.Singleline)]
    private static partial Regex FormRegex();

    [GeneratedRegex(@"<input\b(?<attrs>[^>]*)>", RegexOptions.IgnoreCase)]
    private static partial Regex InputRegex();

    [GeneratedRegex(@"href\s*=\s*""(?<href>[^""]+)""", RegexOptions.IgnoreCase)]
    private static partial Regex HrefRegex();

    [GeneratedRegex(@"confirm=(?<token>[0-9A-Za-z_\-]+)")]
    private static partial Regex TokenRegex();

    [GeneratedRegex(@"<title[^>]*>(?<title>.*?)</title>", RegexOptions.IgnoreCase | RegexOptions.Singleline)]
    private static partial Regex TitleRegex();
}
