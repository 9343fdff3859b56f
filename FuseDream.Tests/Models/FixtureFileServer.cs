using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace FuseDream.Tests.Models;

/// <summary>
/// A real Kestrel server on 127.0.0.1 (port chosen by the OS) that tests map endpoints on, with
/// helpers that serve bytes the way real hosts do: honouring Range or not, dropping the
/// connection mid-file, failing with a status. Every request is logged for assertions.
/// </summary>
public sealed class FixtureFileServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private FixtureFileServer(WebApplication app, Uri baseUri)
    {
        _app = app;
        BaseUri = baseUri;
    }

    public Uri BaseUri { get; }

    /// <summary>Every request seen: path + query, and the Range header if any.</summary>
    public ConcurrentQueue<(string PathAndQuery, string? Range)> Requests { get; } = new();

    /// <summary>The host and port of every request, in order (127.0.0.1 or localhost: the same server under two host names).</summary>
    public ConcurrentQueue<string> Hosts { get; } = new();

    /// <summary>The same server under the host name <c>localhost</c>: another host as far as redirect checks go.</summary>
    public string OtherHostUrl(string pathAndQuery) => new Uri(new Uri($"http://localhost:{BaseUri.Port}/"), pathAndQuery).ToString();

    public string Url(string pathAndQuery) => new Uri(BaseUri, pathAndQuery).ToString();

    public int Hits(string path) => Requests.Count(r => r.PathAndQuery.Split('?')[0] == path);

    public static async Task<FixtureFileServer> StartAsync(Action<IEndpointRouteBuilder> map)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        FixtureFileServer? server = null;
        app.Use(async (context, next) =>
        {
            server!.Requests.Enqueue((context.Request.Path + context.Request.QueryString, context.Request.Headers.Range.ToString() is { Length: > 0 } r ? r : null));
            server.Hosts.Enqueue(context.Request.Host.Value ?? "");
            await next(context);
        });
        map(app);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server = new FixtureFileServer(app, new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal) + "/"));
        return server;
    }

    /// <summary>
    /// Writes <paramref name="bytes"/> as a file download. With <paramref name="honourRange"/> a
    /// <c>Range: bytes=N-</c> request gets 206 from byte N. With <paramref name="abortAfter"/> the
    /// connection is cut after that many body bytes (the response still announces the full length).
    /// </summary>
    public static async Task ServeBytes(HttpContext context, byte[] bytes, bool honourRange = true, long? abortAfter = null,
        TimeSpan? delayBeforeBody = null, string? etag = null)
    {
        long start = 0;
        // Like a real file host: a strong ETag of the content, and If-Range honoured (a stale validator gets the whole file).
        etag ??= "\"" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes))[..16] + "\"";
        context.Response.Headers.ETag = etag;
        var range = context.Request.Headers.Range.ToString();
        var ifRange = context.Request.Headers.IfRange.ToString();
        var rangeApplies = ifRange.Length == 0 || ifRange == etag;
        if (honourRange && rangeApplies && range.StartsWith("bytes=", StringComparison.Ordinal) && range.EndsWith('-'))
        {
            start = long.Parse(range["bytes=".Length..^1]);
            if (start >= bytes.Length)
            {
                context.Response.StatusCode = StatusCodes.Status416RangeNotSatisfiable;
                context.Response.Headers.ContentRange = $"bytes */{bytes.Length}";
                return;
            }
            context.Response.StatusCode = StatusCodes.Status206PartialContent;
            context.Response.Headers.ContentRange = $"bytes {start}-{bytes.Length - 1}/{bytes.Length}";
        }
        context.Response.ContentType = "application/octet-stream";
        context.Response.Headers.AcceptRanges = honourRange ? "bytes" : "none";
        context.Response.ContentLength = bytes.Length - start;
        if (delayBeforeBody is { } delay)
            await Task.Delay(delay);

        var end = abortAfter is long cut ? Math.Min(bytes.Length, start + cut) : bytes.Length;
        const int chunk = 64 * 1024;
        for (var offset = start; offset < end; offset += chunk)
        {
            var count = (int)Math.Min(chunk, end - offset);
            await context.Response.Body.WriteAsync(bytes.AsMemory((int)offset, count));
        }
        if (abortAfter is not null && end < bytes.Length)
        {
            await context.Response.Body.FlushAsync();
            context.Abort();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
