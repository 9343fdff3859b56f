using System.ComponentModel.DataAnnotations;
using FuseDream.Persistence;
using Microsoft.Extensions.Options;

namespace FuseDream.Api.Apis;

/// <summary>How <c>GET /v1/generations/{id}/events</c> follows a generation (section <c>Events</c>).</summary>
public sealed class GenerationEventOptions
{
    public const string Section = "Events";

    /// <summary>How often the one shared reader of a followed generation reads its row (default 250 ms).</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:01:00")]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>How long a stream may stay silent before it sends a <c>: ping</c> comment (default 15 s), so proxies keep it open.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:10:00")]
    public TimeSpan Heartbeat { get; set; } = TimeSpan.FromSeconds(15);
}

/// <summary>
/// One server-sent event of a generation: where it stands now, and the previews written since
/// the previous event. The last event of a stream (named <c>final</c>) carries the final state.
/// </summary>
public sealed record GenerationEvent(
    Guid Id,
    string Status,
    ProgressResponse? Progress,
    long? QueuePosition,
    bool CancelRequested,
    int PreviewCount,
    IReadOnlyList<PreviewLink> NewPreviews,
    ResultResponse? Result,
    string? Error);

/// <summary>A server-sent event as the stream writes it: its id, its name (<c>progress</c> or <c>final</c>) and its data.</summary>
public sealed record GenerationEventMessage(long Id, string Name, GenerationEvent Data)
{
    public const string Progress = "progress";
    public const string Final = "final";
}

/// <summary>
/// The one source of events per followed generation, shared by all its listeners: a single
/// reader reads the row (with its previews, one statement) every <see cref="GenerationEventOptions.PollInterval"/>
/// while anyone listens, whatever the number of listeners, and stops with the last one or the
/// final state. The database therefore sees one query per generation per interval, not one per
/// client; <see cref="Reads"/> counts them.
/// <para>
/// Event ids are the time of the state they describe, in microseconds since 1970 (the latest of
/// the row's created, started, progress and finished times), raised by one where a change kept the
/// same time (a new preview): monotonic per generation, and the same in a new source after the old
/// one stopped, so a client that resumes with <c>Last-Event-ID</c> is sent only later states,
/// whether its source lived on or not.
/// </para>
/// </summary>
public sealed class GenerationEventHub(GenerationRepository repository, IOptions<GenerationEventOptions> options, ILogger<GenerationEventHub> logger) : IDisposable
{
    private readonly GenerationRepository _repository = repository;
    private readonly TimeSpan _interval = options.Value.PollInterval;
    private readonly ILogger _logger = logger;
    private readonly Dictionary<Guid, Feed> _feeds = [];
    private readonly Lock _lock = new();
    private readonly CancellationTokenSource _stopping = new();
    private long _reads;

    /// <summary>How many times the hub has read a generation from the database since it started.</summary>
    public long Reads => Interlocked.Read(ref _reads);

    /// <summary>Listens to <paramref name="id"/>: events with an id above <paramref name="lastEventId"/>, ending after the final state.</summary>
    public Subscription Subscribe(Guid id, long lastEventId)
    {
        lock (_lock)
        {
            if (!_feeds.TryGetValue(id, out var feed))
            {
                feed = new Feed(this, id);
                _feeds[id] = feed;
                feed.Start();
            }
            return feed.Add(lastEventId);
        }
    }

    public void Dispose()
    {
        _stopping.Cancel();
        _stopping.Dispose();
    }

    /// <summary>A listener's events; disposing it stops listening.</summary>
    public sealed class Subscription(Feed feed, System.Threading.Channels.Channel<GenerationEventMessage> channel) : IDisposable
    {
        public System.Threading.Channels.ChannelReader<GenerationEventMessage> Reader => channel.Reader;

        internal System.Threading.Channels.Channel<GenerationEventMessage> Channel => channel;

        public void Dispose() => feed.Leave(this);
    }

    /// <summary>The events of one generation and its listeners.</summary>
    public sealed class Feed
    {
        private readonly GenerationEventHub _hub;
        private readonly List<GenerationEventMessage> _history = [];
        private readonly List<(Subscription Subscription, long After)> _listeners = [];
        private readonly CancellationTokenSource _stop;
        private bool _finished;
        private long _lastId;
        private string? _lastState;
        private int _lastPreviewStep;

        internal Feed(GenerationEventHub hub, Guid id)
        {
            _hub = hub;
            Id = id;
            _stop = CancellationTokenSource.CreateLinkedTokenSource(hub._stopping.Token);
        }

        public Guid Id { get; }

        internal void Start() => _ = Task.Run(() => RunAsync(_stop.Token));

        // Called under the hub's lock, so a feed that is being removed is never joined.
        internal Subscription Add(long after)
        {
            var channel = System.Threading.Channels.Channel.CreateUnbounded<GenerationEventMessage>(new() { SingleWriter = true, SingleReader = true });
            var subscription = new Subscription(this, channel);
            lock (_history)
            {
                foreach (var message in _history)
                    if (message.Id > after) channel.Writer.TryWrite(message);
                if (_finished) channel.Writer.TryComplete();
                else _listeners.Add((subscription, after));
            }
            return subscription;
        }

        internal void Leave(Subscription subscription)
        {
            lock (_hub._lock)
            lock (_history)
            {
                subscription.Channel.Writer.TryComplete();
                if (_listeners.RemoveAll(l => l.Subscription == subscription) == 0) return; // left already
                if (_listeners.Count > 0 || _finished) return;
                // Nobody listens: stop reading. A later listener starts a new feed.
                if (_hub._feeds.TryGetValue(Id, out var current) && current == this) _hub._feeds.Remove(Id);
                _stop.Cancel();
            }
        }

        private async Task RunAsync(CancellationToken cancellationToken)
        {
            var interval = _hub._interval;
            try
            {
                while (!cancellationToken.IsCancellationRequested)
                {
                    try
                    {
                        Interlocked.Increment(ref _hub._reads);
                        var details = await _hub._repository.GetDetailsAsync(Id, cancellationToken);
                        if (details is not null && Next(details) is { } message)
                        {
                            Publish(message);
                            if (message.Name == GenerationEventMessage.Final) return;
                        }
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException)
                    {
                        // Listeners keep waiting (with heartbeats) while the database is away.
                        _hub._logger.LogWarning(ex, "Reading generation {GenerationId} for its event stream failed; trying again", Id);
                    }
                    await Task.Delay(interval, cancellationToken);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
            }
            finally
            {
                Finish();
            }
        }

        private GenerationEventMessage? Next(GenerationDetails details)
        {
            var response = GenerationResponses.ToResponse(details);
            var record = details.Record;
            var final = record.Status is GenerationStatus.Succeeded or GenerationStatus.Failed or GenerationStatus.Canceled;
            var state = string.Join('|', response.Status, response.Progress?.Phase, response.Progress?.Component, response.Progress?.Step, response.Progress?.Total,
                response.Progress?.AugClip, response.Progress?.EtaSeconds, response.QueuePosition, response.CancelRequested, response.PreviewCount, response.Error);
            if (state == _lastState) return null;
            _lastState = state;

            var newPreviews = response.Previews.Where(p => p.Step > _lastPreviewStep).ToList();
            if (newPreviews.Count > 0) _lastPreviewStep = newPreviews.Max(p => p.Step);
            var time = new[] { record.CreatedAt, record.StartedAt, record.Progress?.UpdatedAt, record.FinishedAt }.Max() ?? record.CreatedAt;
            var id = Math.Max((time.UtcTicks - DateTimeOffset.UnixEpoch.Ticks) / 10, _lastId + 1);
            _lastId = id;
            return new GenerationEventMessage(id, final ? GenerationEventMessage.Final : GenerationEventMessage.Progress,
                new GenerationEvent(record.Id, response.Status, response.Progress, response.QueuePosition, response.CancelRequested,
                    response.PreviewCount, newPreviews, response.Result, response.Error));
        }

        private void Publish(GenerationEventMessage message)
        {
            lock (_history)
            {
                _history.Add(message);
                foreach (var (subscription, after) in _listeners)
                    if (message.Id > after) subscription.Channel.Writer.TryWrite(message);
            }
        }

        private void Finish()
        {
            lock (_hub._lock)
            lock (_history)
            {
                _finished = true;
                foreach (var (subscription, _) in _listeners) subscription.Channel.Writer.TryComplete();
                _listeners.Clear();
                if (_hub._feeds.TryGetValue(Id, out var current) && current == this) _hub._feeds.Remove(Id);
            }
            _stop.Dispose();
        }
    }
}
