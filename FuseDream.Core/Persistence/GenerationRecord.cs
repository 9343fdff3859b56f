using FuseDream.Generation;

namespace FuseDream.Persistence;

/// <summary>One row of <c>fusedream.generations</c>.</summary>
public sealed record GenerationRecord
{
    public required Guid Id { get; init; }
    public required long Sequence { get; init; }
    public string? IdempotencyKey { get; init; }
    public required string RequestHash { get; init; }
    public required string Prompt { get; init; }
    public required string Model { get; init; }
    public required long Seed { get; init; }
    public string? Preset { get; init; }
    public required GenerationOptions Options { get; init; }
    public required GenerationStatus Status { get; init; }
    public bool CancelRequested { get; init; }
    public int Attempts { get; init; }
    public string? Worker { get; init; }
    public string? JobId { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset? StartedAt { get; init; }
    public DateTimeOffset? FinishedAt { get; init; }
    public GenerationProgressRecord? Progress { get; init; }
    public double? Score { get; init; }
    public string? ImageKey { get; init; }
    public string? Error { get; init; }

    /// <summary>The id of the API key that submitted it (null: submitted without one, e.g. by the command line).</summary>
    public string? OwnerKeyId { get; init; }

    /// <summary>Where its webhook events go (null: none).</summary>
    public string? WebhookUrl { get; init; }

    /// <summary>Which events are delivered to <see cref="WebhookUrl"/>.</summary>
    public IReadOnlyList<string> WebhookEvents { get; init; } = [];

    /// <summary>A composed generation's scene (null: a single-prompt generation).</summary>
    public FuseDream.Composition.ComposedScene? Scene { get; init; }

    /// <summary>A succeeded composed generation's component images (blob keys, component order) and naive composite.</summary>
    public IReadOnlyList<string> ComponentImageKeys { get; init; } = [];

    public string? CompositeImageKey { get; init; }
}

/// <summary>The latest progress a worker wrote.</summary>
public sealed record GenerationProgressRecord(
    GenerationPhase Phase, int Step, int Total, double? AugClip, TimeSpan? Eta, DateTimeOffset UpdatedAt)
{
    /// <summary>In a composed generation's stage 1: which component (from 1) of <see cref="Components"/>.</summary>
    public int? Component { get; init; }

    public int? Components { get; init; }
}

/// <summary>A preview stored for one step.</summary>
public sealed record PreviewRecord(int Step, string BlobKey);

/// <summary>A generation to insert.</summary>
internal sealed record NewGeneration(
    Guid Id, string? IdempotencyKey, string RequestHash, string Prompt, long Seed, string? Preset, GenerationOptions Options)
{
    /// <summary>The submitting API key (null: none).</summary>
    public string? OwnerKeyId { get; init; }

    /// <summary>With an owner: refuse the insert when the owner already has this many generations queued or running.</summary>
    public int? MaxActive { get; init; }

    public string? WebhookUrl { get; init; }

    public IReadOnlyList<string> WebhookEvents { get; init; } = [];

    /// <summary>A composed generation's scene, or null.</summary>
    public FuseDream.Composition.ComposedScene? Scene { get; init; }
}

/// <summary>A worker process as its latest heartbeat describes it.</summary>
public sealed record WorkerRecord(string Name, IReadOnlyList<string> Models, int WorkerCount, DateTimeOffset StartedAt, DateTimeOffset LastSeen)
{
    /// <summary>The CLIP models the worker loaded (ids of <see cref="Clip.ClipModelIds"/>), its default first.</summary>
    public IReadOnlyList<string> Clips { get; init; } = [];

    /// <summary>What its models compute in (<c>fp32</c>, <c>bf16</c>); null when it did not say.</summary>
    public string? Precision { get; init; }

    /// <summary>Why that precision (e.g. <c>auto: CPU has avx512_bf16</c>, <c>set explicitly</c>).</summary>
    public string? PrecisionReason { get; init; }
}

/// <summary>What the API shows of a generation: its row, its place in the queue (1-based, null when not queued) and its previews by step.</summary>
public sealed record GenerationDetails(GenerationRecord Record, long? QueuePosition, IReadOnlyList<PreviewRecord> Previews)
{
    /// <summary>How many previews the generation has; <see cref="Previews"/> holds only the latest <see cref="GenerationRepository.PreviewLinks"/>.</summary>
    public int PreviewCount { get; init; } = Previews.Count;
}
