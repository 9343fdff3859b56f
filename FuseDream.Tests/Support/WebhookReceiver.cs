using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace FuseDream.Tests.Support;

/// <summary>A webhook receiver on 127.0.0.1 that records each request and answers <c>status(request number)</c>.</summary>
internal sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;

    private WebhookReceiver(WebApplication app, Uri baseUri) => (_app, BaseUri) = (app, baseUri);

    public Uri BaseUri { get; }

    public ConcurrentQueue<(string Path, Dictionary<string, string> Headers, string Body, JsonElement Json, DateTime At)> Requests { get; } = new();

    public string Url(string path) => new Uri(BaseUri, path).ToString();

    public static async Task<WebhookReceiver> StartAsync(Func<int, int> status)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        WebhookReceiver? receiver = null;
        app.Run(async context =>
        {
            var at = DateTime.UtcNow;
            using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
            var body = await reader.ReadToEndAsync();
            var headers = context.Request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString());
            receiver!.Requests.Enqueue((context.Request.Path, headers, body, JsonDocument.Parse(body).RootElement.Clone(), at));
            context.Response.StatusCode = status(receiver.Requests.Count);
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        receiver = new WebhookReceiver(app, new Uri(address + "/"));
        return receiver;
    }

    public async Task<List<(string Path, Dictionary<string, string> Headers, string Body, JsonElement Json, DateTime At)>> WaitForAsync(int count)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (Requests.Count < count && DateTime.UtcNow < deadline) await Task.Delay(25);
        Assert.True(Requests.Count >= count, $"the receiver got {Requests.Count} of {count} requests");
        return [.. Requests];
    }

    /// <summary>The first request whose JSON satisfies <paramref name="match"/>, waiting up to <paramref name="timeout"/> (a bounded poll).</summary>
    public async Task<JsonElement> WaitForAsync(Func<JsonElement, bool> match, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            foreach (var request in Requests)
                if (match(request.Json)) return request.Json;
            Assert.True(DateTime.UtcNow < deadline, $"no matching request among the {Requests.Count} received: {string.Join(" | ", Requests.Select(r => r.Body))}");
            await Task.Delay(50);
        }
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
