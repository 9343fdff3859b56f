using System.Net.Http.Headers;
using System.Text.Json;

namespace FuseDream.Tests.Web;

/// <summary>One event of a text/event-stream as a client parses it.</summary>
public sealed record ServerSentEvent(long Id, string Name, JsonElement Data);

/// <summary>
/// A minimal text/event-stream client over a real HTTP connection: it reads events and comments
/// line by line as the server flushes them, the way a browser's fetch() reader does.
/// </summary>
public sealed class EventStream : IAsyncDisposable
{
    private readonly HttpResponseMessage _response;
    private readonly StreamReader _reader;

    private EventStream(HttpResponseMessage response, StreamReader reader)
    {
        _response = response;
        _reader = reader;
    }

    /// <summary>The comments (<c>: ping</c>) received so far.</summary>
    public List<string> Comments { get; } = [];

    public HttpResponseMessage Response => _response;

    public static async Task<EventStream> OpenAsync(HttpClient client, Guid id, long? lastEventId = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/generations/{id}/events");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        if (lastEventId is { } last) request.Headers.Add("Last-Event-ID", last.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        return new EventStream(response, new StreamReader(await response.Content.ReadAsStreamAsync()));
    }

    /// <summary>The next event, or null when the server ended the stream.</summary>
    public async Task<ServerSentEvent?> NextAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(30));
        long? id = null;
        string? name = null;
        var data = new List<string>();
        while (true)
        {
            var line = await _reader.ReadLineAsync(cts.Token);
            if (line is null) return null;
            if (line.Length == 0)
            {
                if (data.Count == 0) continue; // the end of a comment or of the retry field
                return new ServerSentEvent(id ?? throw new InvalidOperationException("an event without an id"), name ?? "message",
                    JsonDocument.Parse(string.Join('\n', data)).RootElement.Clone());
            }
            if (line.StartsWith(':')) { Comments.Add(line); continue; }
            var colon = line.IndexOf(':');
            var field = colon < 0 ? line : line[..colon];
            var value = colon < 0 ? "" : line[(colon + 1)..].TrimStart(' ');
            switch (field)
            {
                case "id": id = long.Parse(value, System.Globalization.CultureInfo.InvariantCulture); break;
                case "event": name = value; break;
                case "data": data.Add(value); break;
            }
        }
    }

    /// <summary>Every event until the server ends the stream.</summary>
    public async Task<List<ServerSentEvent>> ReadToEndAsync(TimeSpan? timeout = null)
    {
        var events = new List<ServerSentEvent>();
        while (await NextAsync(timeout) is { } e) events.Add(e);
        return events;
    }

    public ValueTask DisposeAsync()
    {
        _reader.Dispose();
        _response.Dispose();
        return ValueTask.CompletedTask;
    }
}
