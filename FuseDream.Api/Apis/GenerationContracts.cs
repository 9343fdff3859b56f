using FuseDream.Generation;

namespace FuseDream.Api.Apis;

/// <summary>A generation to run. Only <c>prompt</c> (or <c>prompts</c>) and <c>model</c> are required.</summary>
public sealed record CreateGenerationRequest
{
    /// <summary>What to draw. At most 77 CLIP tokens, start and end tokens included.</summary>
    public string? Prompt { get; init; }

    /// <summary>
    /// In place of <c>prompt</c>: 1 to 8 weighted prompts. The score is
    /// Σ wᵢ · AugCLIP(x, textᵢ) / Σ of the positive weights; a negative weight pushes the image
    /// away from its text. Weights between -10 and 10, not 0; at least one positive.
    /// </summary>
    public IReadOnlyList<PromptInput?>? Prompts { get; init; }

    /// <summary>
    /// The CLIP models that score, 1 to 3, each { model, weight } (weight above 0, at most 10;
    /// omitted: 1): the score is their weighted mean. Omitted: the worker's default CLIP. The
    /// ids a worker has are listed by <c>/v1/models</c> under <c>clips</c>.
    /// </summary>
    public IReadOnlyList<ClipInput?>? Clips { get; init; }

    /// <summary>The generator: <c>biggan-256</c> or <c>biggan-512</c>.</summary>
    public string? Model { get; init; }

    /// <summary>Random seed (non-negative); the same seed and options give the same image. Omitted: chosen at random and reported.</summary>
    public long? Seed { get; init; }

    /// <summary>Starting settings: <c>paper</c> (default), <c>balanced</c> or <c>fast</c>; <c>options</c> override single fields.</summary>
    public string? Preset { get; init; }

    /// <summary>Overrides of single settings of the preset.</summary>
    public GenerationOverrides? Options { get; init; }

    /// <summary>Store a preview image every this many optimisation steps (0 or omitted: none).</summary>
    public int? PreviewEvery { get; init; }

    /// <summary>
    /// An https URL to POST this generation's events to, signed with the key's webhook secret
    /// (Standard Webhooks). Its host must resolve to public addresses.
    /// </summary>
    public string? Webhook { get; init; }

    /// <summary>Which events go to <c>webhook</c>: <c>start</c>, <c>progress</c> (throttled), <c>completed</c> (omitted: completed only).</summary>
    public IReadOnlyList<string>? WebhookEvents { get; init; }

    /// <summary>
    /// A composed generation (docs/composition.md): 2 to 4 components, the background first, each
    /// drawn by its own prompt in its box and fused into one image of <c>prompt</c> (the scene).
    /// The preset is then a composition preset (<c>fast</c>, <c>balanced</c>, <c>paper</c>), whose
    /// stage-1 settings <c>options</c> overrides for every component. Not with <c>prompts</c> or <c>clips</c>.
    /// </summary>
    public IReadOnlyList<ComponentInput?>? Components { get; init; }

    /// <summary>With <c>components</c>: overrides of the fusion's settings (stage 2) of the preset.</summary>
    public FuseDream.Composition.CompositionOverrides? Composition { get; init; }
}

/// <summary>One component of a composed scene.</summary>
public sealed record ComponentInput
{
    /// <summary>What this component shows; at most 77 CLIP tokens.</summary>
    public string? Prompt { get; init; }

    /// <summary>Its region [x0, y0, x1, y1] in [0, 1] image coordinates (x right, y down), x0 &lt; x1 and y0 &lt; y1. Omitted: the whole frame.</summary>
    public IReadOnlyList<double>? Box { get; init; }

    /// <summary>The softness of the box's edges, a fraction of the image's side, 0 to 0.5 (omitted: <c>composition.feather</c>).</summary>
    public double? Feather { get; init; }

    /// <summary>A stored component in the request's shape.</summary>
    public static ComponentInput From(FuseDream.Composition.SceneComponent component) => new()
    {
        Prompt = component.Prompt,
        Box = component.Box is { } b ? [b.X0, b.Y0, b.X1, b.Y1] : null,
        Feather = component.Feather,
    };
}

/// <summary>One CLIP of a request's ensemble.</summary>
public sealed record ClipInput
{
    /// <summary>A CLIP model id from <c>/v1/models</c>, e.g. <c>clip-vit-b-32</c>.</summary>
    public string? Model { get; init; }

    /// <summary>Relative weight, above 0 and at most 10 (omitted: 1).</summary>
    public double? Weight { get; init; }
}

/// <summary>One weighted prompt of a request.</summary>
public sealed record PromptInput
{
    /// <summary>The text; at most 77 CLIP tokens.</summary>
    public string? Text { get; init; }

    /// <summary>Between -10 and 10, not 0 (omitted: 1); negative: push the image away from the text.</summary>
    public double? Weight { get; init; }
}

/// <summary>One webhook event's delivery: its attempts and the receiver's last answer.</summary>
public sealed record WebhookDeliveryResponse(
    Guid Id, string Event, string Status, int Attempts, int? LastStatusCode, string? LastError, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

/// <summary>A generation: its request, where it stands and, once done, its result.</summary>
public sealed record GenerationResponse
{
    public required Guid Id { get; init; }

    /// <summary><c>queued</c>, <c>running</c>, <c>succeeded</c>, <c>failed</c> or <c>canceled</c>.</summary>
    public required string Status { get; init; }

    public required string Prompt { get; init; }
    public required string Model { get; init; }
    public required long Seed { get; init; }
    public string? Preset { get; init; }

    /// <summary>The effective settings (preset plus overrides).</summary>
    public required GenerationOptions Options { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset? StartedAt { get; init; }
    public DateTimeOffset? FinishedAt { get; init; }

    /// <summary>1-based place in the queue while queued.</summary>
    public long? QueuePosition { get; init; }

    /// <summary>The latest progress while running.</summary>
    public ProgressResponse? Progress { get; init; }

    /// <summary>True once cancellation was asked for.</summary>
    public bool CancelRequested { get; init; }

    /// <summary>The outcome once succeeded.</summary>
    public ResultResponse? Result { get; init; }

    /// <summary>The latest previews (at most 10, oldest first); all of them are paged at <c>links.previews</c>.</summary>
    public IReadOnlyList<PreviewLink> Previews { get; init; } = [];

    /// <summary>How many previews are stored (a run stores at most 50, evenly spaced).</summary>
    public int PreviewCount { get; init; }

    /// <summary>Why it failed (or the last transient failure while it is retried).</summary>
    public string? Error { get; init; }

    /// <summary>A composed generation's components as requested, background first (null: a single prompt).</summary>
    public IReadOnlyList<ComponentInput>? Components { get; init; }

    /// <summary>A composed generation's effective fusion settings (preset plus <c>composition</c>).</summary>
    public FuseDream.Composition.CompositionOptions? Composition { get; init; }

    public required GenerationLinks Links { get; init; }
}

/// <summary>Progress of a running generation.</summary>
public sealed record ProgressResponse(
    string Phase, int Step, int Total, double Percent, double? AugClip, double? EtaSeconds, DateTimeOffset UpdatedAt)
{
    /// <summary>In a composed generation's stage 1 (<c>basisSearch</c>, <c>optimizing</c>): which component, from 1, of <see cref="Components"/>.</summary>
    public int? Component { get; init; }

    public int? Components { get; init; }
}

/// <summary>The outcome of a succeeded generation.</summary>
public sealed record ResultResponse(double AugClipScore, long Seed, string ImageUrl, string TraceUrl);

public sealed record PreviewLink(int Step, string Url);

public sealed record GenerationLinks(string Self, string Cancel, string? Image, string? Trace, string Previews)
{
    /// <summary>A succeeded composed generation's component images, in the request's order (<c>…/components/0</c> is the background).</summary>
    public IReadOnlyList<string>? Components { get; init; }

    /// <summary>A succeeded composed generation's naive composite (the components cut and pasted into their boxes).</summary>
    public string? Composite { get; init; }
}

/// <summary>One page of a generation's previews, by step; <c>nextCursor</c> fetches the next.</summary>
public sealed record PreviewPage(Guid GenerationId, int Total, IReadOnlyList<PreviewLink> Items, string? NextCursor);

/// <summary>One page of generations, newest first.</summary>
public sealed record GenerationPage(IReadOnlyList<GenerationResponse> Items, string? NextCursor);

/// <summary>The score trace: the loss of every step, AugCLIP where it was measured.</summary>
public sealed record TraceResponse(Guid GenerationId, double? AugClipScore, IReadOnlyList<TracePoint> Points)
{
    /// <summary>
    /// A composed generation's whole trace (both stages: each component's search and steps, the
    /// fusion's warm-up and outer steps, the scene's measurements); <c>points</c> are then the
    /// fusion's outer steps, with loss −U and the scene's AugCLIP where measured.
    /// </summary>
    public FuseDream.Composition.CompositionTrace? Composition { get; init; }
}

/// <summary>What the connected workers can run.</summary>
public sealed record ModelsResponse(IReadOnlyList<ModelAvailability> Models, IReadOnlyList<WorkerResponse> Workers)
{
    /// <summary>The CLIP models live workers have loaded, which a request may name in <c>clips</c>.</summary>
    public IReadOnlyList<ModelAvailability> Clips { get; init; } = [];
}

/// <summary>A model id, and how many worker threads (GPUs) can run it now.</summary>
public sealed record ModelAvailability(string Id, int WorkerThreads);

/// <summary>A live worker process: what it runs and since when. Not its name: that is the host's, for the logs and the heartbeat table.</summary>
public sealed record WorkerResponse(IReadOnlyList<string> Models, int Threads, DateTimeOffset StartedAt, DateTimeOffset LastSeen)
{
    /// <summary>The CLIP models it loaded, its default first.</summary>
    public IReadOnlyList<string> Clips { get; init; } = [];

    /// <summary>What its models compute in: <c>fp32</c> or <c>bf16</c> (<c>Models:Precision</c>, <c>auto</c> resolved); null when it does not say.</summary>
    public string? Precision { get; init; }

    /// <summary>Why that precision, e.g. <c>auto: CPU has avx512_bf16</c> or <c>set explicitly</c>.</summary>
    public string? PrecisionReason { get; init; }
}
