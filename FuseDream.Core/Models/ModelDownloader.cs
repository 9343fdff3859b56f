using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace FuseDream.Models;

/// <summary>
/// Fetches one source into a partial file, resuming what is already there with an HTTP Range
/// request guarded by If-Range (so a file that changed on the server is fetched again, never
/// spliced), retrying transient failures with exponential backoff and following Google Drive's
/// large-file confirmation page. Redirects are followed one by one and each hop is checked:
/// HTTPS only, and only to the source's own domain or the hosts the catalog lists for it, unless
/// the options allow otherwise. A body larger than the model can be is cut off while streaming.
/// It does not judge the bytes: the store verifies and places them.
/// </summary>
internal sealed class ModelDownloader
{
    private const int MaxHtmlBytes = 2 * 1024 * 1024;
    private const int MaxConfirmationHops = 3;
    private const int MaxRedirects = 10;
    private const string ValidatorSuffix = ".validator";

    private static readonly Lazy<HttpClient> SharedClient = new(() => CreateClient(TimeSpan.FromSeconds(30)));

    private readonly HttpClient _http;
    private readonly ModelStoreOptions _options;

    public ModelDownloader(ModelStoreOptions options)
    {
        _options = options;
        _http = options.HttpClient ?? SharedClient.Value;
    }

    internal static HttpClient CreateClient(TimeSpan connectTimeout)
    {
        var handler = new SocketsHttpHandler
        {
            // Each redirect is followed by hand so its scheme and host can be checked first.
            AllowAutoRedirect = false,
            // Google Drive sets a cookie on the confirmation page that the download link may need.
            CookieContainer = new CookieContainer(),
            UseCookies = true,
            ConnectTimeout = connectTimeout,
            AutomaticDecompression = DecompressionMethods.None,
        };
        var client = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        client.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("FuseDream", typeof(ModelDownloader).Assembly.GetName().Version?.ToString() ?? "0"));
        return client;
    }

    /// <summary>
    /// Downloads <paramref name="source"/> into <paramref name="partialPath"/> until complete, or throws
    /// <see cref="DownloadFailure"/>. <paramref name="maxBytes"/> bounds the file; <paramref name="nextSource"/>
    /// is named in messages that suggest another source (a Drive quota page).
    /// </summary>
    public async Task DownloadAsync(string modelId, ModelSource source, string partialPath, long maxBytes, IProgress<DownloadProgress>? progress,
        CancellationToken ct, string? nextSource = null)
    {
        var url = source.Url;
        var delay = _options.InitialRetryDelay;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await AttemptAsync(modelId, source, partialPath, maxBytes, nextSource, progress, ct).ConfigureAwait(false);
                File.Delete(partialPath + ValidatorSuffix);
                return;
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                throw;
            }
            catch (Exception e) when (e is DownloadFailure or HttpRequestException or IOException)
            {
                var failure = e as DownloadFailure ?? new DownloadFailure(Describe(e), transient: !IsHostNotFound(e), e);
                if (!failure.Transient)
                    throw failure;
                if (attempt >= _options.MaxAttemptsPerSource)
                    throw new DownloadFailure($"{failure.Message} (gave up after {attempt} attempt{(attempt == 1 ? "" : "s")})", transient: true, e);
                _options.Log?.Invoke($"{modelId}: {url}: {failure.Message}; attempt {attempt + 1} of {_options.MaxAttemptsPerSource} in {delay.TotalSeconds:0.##} s");
                await Task.Delay(delay, ct).ConfigureAwait(false);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _options.MaxRetryDelay.Ticks));
            }
        }
    }

    private async Task AttemptAsync(string modelId, ModelSource source, string partialPath, long maxBytes, string? nextSource,
        IProgress<DownloadProgress>? progress, CancellationToken ct)
    {
        var sourceUri = new Uri(source.Url);
        CheckHop(sourceUri, sourceUri, source, "the source");
        var uri = sourceUri;
        var redirects = 0;
        for (var hop = 0; ; )
        {
            var existing = File.Exists(partialPath) ? new FileInfo(partialPath).Length : 0;
            var validator = existing > 0 && File.Exists(partialPath + ValidatorSuffix) ? File.ReadAllText(partialPath + ValidatorSuffix).Trim() : null;
            if (existing > 0 && string.IsNullOrEmpty(validator))
            {
                // Without an ETag or Last-Modified to resume against, the bytes kept may belong to another version of the file.
                _options.Log?.Invoke($"{modelId}: the {existing} bytes kept from an earlier try cannot be matched to the file on the server; starting over");
                File.Delete(partialPath);
                existing = 0;
            }
            using var request = new HttpRequestMessage(HttpMethod.Get, uri);
            if (existing > 0)
            {
                request.Headers.Range = new RangeHeaderValue(existing, null);
                request.Headers.TryAddWithoutValidation("If-Range", validator);
            }

            using var response = await SendAsync(request, ct).ConfigureAwait(false);
            var status = (int)response.StatusCode;

            if (status is 301 or 302 or 303 or 307 or 308)
            {
                var location = response.Headers.Location
                    ?? throw new DownloadFailure($"HTTP {status} from {uri.Host} without a Location header", transient: false);
                var next = location.IsAbsoluteUri ? location : new Uri(uri, location);
                if (++redirects > MaxRedirects)
                    throw new DownloadFailure($"more than {MaxRedirects} redirects (last to {next.GetLeftPart(UriPartial.Path)})", transient: false);
                CheckHop(sourceUri, next, source, "a redirect");
                uri = next;
                continue;
            }
            if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable && existing > 0)
            {
                // The partial is as long as (or longer than) the file, or the file changed: start over.
                DeletePartial(partialPath);
                throw new DownloadFailure($"server refused to resume at byte {existing} (HTTP 416); starting over", transient: true);
            }
            if (!response.IsSuccessStatusCode)
                throw new DownloadFailure($"HTTP {status} {response.ReasonPhrase}", transient: IsTransient(response.StatusCode));

            if (IsHtml(response))
            {
                var html = await ReadLimitedAsync(response.Content, ct).ConfigureAwait(false);
                var pageUri = uri;
                var title = DriveConfirmation.Title(html);
                if (DriveConfirmation.IsQuotaExceeded(html))
                    throw new DownloadFailure(
                        $"Google Drive refused: quota exceeded for this file{(title is null ? "" : $" (\"{title}\")")}; try again later or use " +
                        (nextSource ?? "another source (a copy placed by hand, or a mirror added to a catalog file)"), transient: false);
                var next = DriveConfirmation.TryFindDownloadUrl(html, pageUri);
                if (next is null)
                    throw new DownloadFailure(
                        $"the server sent an HTML page instead of the file{(title is null ? "" : $" (\"{title}\")")}: " +
                        "the file may have been removed, made private, or hit a download quota", transient: false);
                if (hop >= MaxConfirmationHops)
                    throw new DownloadFailure($"the server kept answering with confirmation pages{(title is null ? "" : $" (\"{title}\")")} after {hop + 1} hops", transient: false);
                CheckHop(sourceUri, next, source, "the download confirmation");
                _options.Log?.Invoke($"{modelId}: {uri.Host} asked to confirm the download{(title is null ? "" : $" (\"{title}\")")}; following {next.GetLeftPart(UriPartial.Path)}");
                uri = next;
                hop++;
                continue;
            }

            await ReceiveBodyAsync(modelId, uri, response, partialPath, existing, maxBytes, progress, ct).ConfigureAwait(false);
            return;
        }
    }

    /// <summary>
    /// Refuses a hop (the source itself, a redirect, a confirmation link) to plain HTTP or to a
    /// host outside the source's domain and its listed redirect hosts, unless the options allow it.
    /// </summary>
    private void CheckHop(Uri sourceUri, Uri next, ModelSource source, string what)
    {
        if (next.Scheme != Uri.UriSchemeHttps && !_options.AllowInsecureHttp)
            throw new DownloadFailure(
                $"refused: {what} is plain HTTP ({next.GetLeftPart(UriPartial.Path)}), which anyone on the way can alter; " +
                "pass --allow-insecure to allow it (the file is still verified)", transient: false);
        if (next.Scheme != Uri.UriSchemeHttps && next.Scheme != Uri.UriSchemeHttp)
            throw new DownloadFailure($"refused: {what} leads to a {next.Scheme}: URL", transient: false);
        if (!IsHostAllowed(sourceUri.Host, next.Host, source.RedirectHosts ?? []) && !_options.AllowAnyRedirectHost)
            throw new DownloadFailure(
                $"refused: {what} leads to {next.Host}, outside {Domain(sourceUri.Host)}" +
                (source.RedirectHosts is { Count: > 0 } listed ? $" and the hosts the catalog lists for this source ({string.Join(", ", listed)})" : "") +
                "; pass --allow-insecure to allow it (the file is still verified)", transient: false);
    }

    /// <summary>Same host, the source's domain or a subdomain of it, or a listed host (<c>*.example.org</c> for every subdomain).</summary>
    internal static bool IsHostAllowed(string sourceHost, string host, IReadOnlyList<string> listed)
    {
        if (host.Equals(sourceHost, StringComparison.OrdinalIgnoreCase))
            return true;
        var domain = Domain(sourceHost);
        if (domain != sourceHost && (host.Equals(domain, StringComparison.OrdinalIgnoreCase) || host.EndsWith("." + domain, StringComparison.OrdinalIgnoreCase)))
            return true;
        foreach (var entry in listed)
        {
            if (entry.StartsWith("*.", StringComparison.Ordinal)
                    ? host.EndsWith(entry[1..], StringComparison.OrdinalIgnoreCase) || host.Equals(entry[2..], StringComparison.OrdinalIgnoreCase)
                    : host.Equals(entry, StringComparison.OrdinalIgnoreCase))
                return true;
        }
        return false;
    }

    /// <summary>The last two labels of a host name (huggingface.co, google.com); an IP address or a one-label name stands alone.</summary>
    private static string Domain(string host)
    {
        if (IPAddress.TryParse(host, out _)) return host;
        var labels = host.Split('.');
        return labels.Length <= 2 ? host : string.Join('.', labels[^2..]);
    }

    private static void DeletePartial(string partialPath)
    {
        File.Delete(partialPath);
        File.Delete(partialPath + ValidatorSuffix);
    }

    private async Task ReceiveBodyAsync(string modelId, Uri uri, HttpResponseMessage response, string partialPath, long existing, long maxBytes,
        IProgress<DownloadProgress>? progress, CancellationToken ct)
    {
        var headers = response.Content.Headers;
        long start;
        if (response.StatusCode == HttpStatusCode.PartialContent)
        {
            if (existing == 0 || headers.ContentRange?.From != existing)
            {
                DeletePartial(partialPath);
                throw new DownloadFailure($"server answered a request for bytes {existing}- with range {headers.ContentRange}; starting over", transient: true);
            }
            start = existing;
        }
        else
        {
            // 200: the server ignored Range, the file changed since the partial was written (If-Range), or none was sent: whole file from byte 0.
            if (existing > 0)
                _options.Log?.Invoke($"{modelId}: {uri.Host} sent the whole file (HTTP 200 to a Range request: no resume, or the file changed); starting over from byte 0");
            start = 0;
            var validator = response.Headers.ETag is { IsWeak: false } etag ? etag.ToString()
                : headers.LastModified is { } modified ? modified.ToString("R", System.Globalization.CultureInfo.InvariantCulture) : null;
            if (validator is null)
                File.Delete(partialPath + ValidatorSuffix);
            else
                await File.WriteAllTextAsync(partialPath + ValidatorSuffix, validator, ct).ConfigureAwait(false);
        }

        long? total = start > 0
            ? headers.ContentRange?.Length ?? (headers.ContentLength is long rest ? start + rest : null)
            : headers.ContentLength;
        if (total > maxBytes)
        {
            DeletePartial(partialPath);
            throw new DownloadFailure($"the server announces {total} bytes, more than this model can be ({maxBytes} bytes at most); refused", transient: false);
        }

        var url = uri.ToString();
        var clock = Stopwatch.StartNew();
        TimeSpan? lastReport = null;
        var received = start;
        var buffer = new byte[1 << 16];

        await using (var file = new FileStream(partialPath, start > 0 ? FileMode.Append : FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
        await using (var body = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false))
        {
            using var stall = CancellationTokenSource.CreateLinkedTokenSource(ct);
            while (true)
            {
                stall.CancelAfter(_options.StallTimeout);
                int read;
                try
                {
                    read = await body.ReadAsync(buffer, stall.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    await file.FlushAsync(CancellationToken.None).ConfigureAwait(false);
                    throw new DownloadFailure($"no data for {_options.StallTimeout.TotalSeconds:0.#} s after {received} bytes", transient: true);
                }
                if (read == 0)
                    break;
                if (received + read > maxBytes)
                {
                    file.Close();
                    DeletePartial(partialPath);
                    throw new DownloadFailure($"the server sent more than {maxBytes} bytes, more than this model can be; refused", transient: false);
                }
                await file.WriteAsync(buffer.AsMemory(0, read), ct).ConfigureAwait(false);
                received += read;
                if (progress is not null && (lastReport is null || clock.Elapsed - lastReport.Value >= _options.ProgressInterval))
                {
                    lastReport = clock.Elapsed;
                    progress.Report(Snapshot(modelId, url, received, start, total, clock.Elapsed, completed: false));
                }
            }
        }

        if (total is long expected && received != expected)
            throw new DownloadFailure($"connection closed after {received} of {expected} bytes", transient: true);
        progress?.Report(Snapshot(modelId, url, received, start, total, clock.Elapsed, completed: true));
    }

    private async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct)
    {
        using var headersTimeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        headersTimeout.CancelAfter(_options.StallTimeout);
        try
        {
            return await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, headersTimeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new DownloadFailure($"no response within {_options.StallTimeout.TotalSeconds:0.#} s", transient: true);
        }
    }

    private static DownloadProgress Snapshot(string modelId, string url, long received, long start, long? total, TimeSpan elapsed, bool completed)
    {
        var seconds = Math.Max(elapsed.TotalSeconds, 1e-3);
        var rate = (received - start) / seconds;
        TimeSpan? eta = total is long t && rate > 0 ? TimeSpan.FromSeconds(Math.Max(0, t - received) / rate) : null;
        return new DownloadProgress(modelId, url, received, total, rate, eta, completed);
    }

    private static bool IsHtml(HttpResponseMessage response) =>
        response.Content.Headers.ContentType?.MediaType is { } media
        && (media.Equals("text/html", StringComparison.OrdinalIgnoreCase) || media.Equals("application/xhtml+xml", StringComparison.OrdinalIgnoreCase));

    private static bool IsTransient(HttpStatusCode status) =>
        (int)status >= 500 || status is HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests;

    private static async Task<string> ReadLimitedAsync(HttpContent content, CancellationToken ct)
    {
        await using var stream = await content.ReadAsStreamAsync(ct).ConfigureAwait(false);
        var buffer = new byte[MaxHtmlBytes];
        var total = 0;
        int read;
        while (total < buffer.Length && (read = await stream.ReadAsync(buffer.AsMemory(total), ct).ConfigureAwait(false)) > 0)
            total += read;
        return Encoding.UTF8.GetString(buffer, 0, total);
    }

    /// <summary>A name that does not resolve means offline or a dead host; retrying within seconds does not help.</summary>
    private static bool IsHostNotFound(Exception e)
    {
        for (var current = e; current is not null; current = current.InnerException)
        {
            if (current is System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.HostNotFound or System.Net.Sockets.SocketError.NoData })
                return true;
        }
        return false;
    }

    private static string Describe(Exception e)
    {
        // HttpRequestException's message is generic; the socket error underneath says what happened.
        var messages = new List<string>();
        for (var current = e; current is not null; current = current.InnerException)
        {
            if (!messages.Any(m => m.Contains(current.Message, StringComparison.Ordinal)))
                messages.Add(current.Message);
        }
        return string.Join(": ", messages);
    }
}

/// <summary>A source failed; <see cref="Transient"/> says whether trying again may help.</summary>
internal sealed class DownloadFailure(string message, bool transient, Exception? inner = null) : Exception(message, inner)
{
    public bool Transient { get; } = transient;
}
