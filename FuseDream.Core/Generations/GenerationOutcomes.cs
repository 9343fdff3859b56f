using System.Security.Cryptography;
using System.Text.Json;
using FuseDream.Generation;
using FuseDream.Persistence;

namespace FuseDream.Generations;

/// <summary>
/// A validated request for a generation. <paramref name="RequestHash"/> identifies the request
/// for idempotency: the same <paramref name="IdempotencyKey"/> with another hash is a conflict.
/// Without <paramref name="Seed"/>, one is drawn.
/// </summary>
public sealed record GenerationSubmission(
    string Prompt, long? Seed, string? Preset, GenerationOptions Options, string RequestHash, string? IdempotencyKey)
{
    /// <summary>
    /// The API key submitting it (null: a front end without keys, e.g. the command line). It
    /// owns the generation, scopes the idempotency key, and is held to
    /// <see cref="Access.AccessOptions.MaxActiveGenerations"/>.
    /// </summary>
    public string? OwnerKeyId { get; init; }

    /// <summary>Where to deliver the generation's webhook events (an https URL already checked by the caller), or null.</summary>
    public string? WebhookUrl { get; init; }

    /// <summary>Which events go to <see cref="WebhookUrl"/>.</summary>
    public IReadOnlyList<string> WebhookEvents { get; init; } = [];

    /// <summary>A composed generation's components and fusion options (already validated by the front end), or null for a single prompt.</summary>
    public FuseDream.Composition.ComposedScene? Scene { get; init; }

    /// <summary>The request hash of a request as its front end received it: SHA-256 (hex) of its JSON.</summary>
    public static string HashOf<T>(T request, JsonSerializerOptions json) =>
        Convert.ToHexStringLower(SHA256.HashData(JsonSerializer.SerializeToUtf8Bytes(request, json)));
}

/// <summary>What <see cref="GenerationService.SubmitAsync"/> did.</summary>
public abstract record SubmitOutcome
{
    private SubmitOutcome() { }

    /// <summary>The generation is stored and queued. <paramref name="Replayed"/>: an earlier request with the same key created it.</summary>
    public sealed record Accepted(GenerationDetails Generation, bool Replayed) : SubmitOutcome;

    /// <summary>The idempotency key was already used by generation <paramref name="ExistingId"/> for a different request; nothing changed.</summary>
    public sealed record KeyConflict(Guid ExistingId) : SubmitOutcome;

    /// <summary>
    /// The queue refused the job. <paramref name="Replayed"/> false: nothing was stored, a retry
    /// starts afresh. True: the generation stays stored, and a replay with the same key
    /// enqueues it.
    /// </summary>
    public sealed record QueueUnavailable(bool Replayed) : SubmitOutcome;

    /// <summary>
    /// The submitting key already has <paramref name="Limit"/> generations queued or running
    /// (<see cref="Access.AccessOptions.MaxActiveGenerations"/>); nothing was stored.
    /// </summary>
    public sealed record TooManyActive(int Limit, long Active) : SubmitOutcome;

    /// <summary>
    /// The request names CLIPs (<see cref="GenerationOptions.Clips"/>) that no live worker serving its
    /// model has loaded; nothing was stored. <paramref name="Missing"/>: the index in the list and why.
    /// </summary>
    public sealed record ClipsUnavailable(IReadOnlyList<(int Index, string Reason)> Missing) : SubmitOutcome;

    /// <summary>No live worker serves <paramref name="Model"/>; nothing was stored. <paramref name="Reason"/> says how to start one.</summary>
    public sealed record NoWorker(string Model, string Reason) : SubmitOutcome;
}

/// <summary>What <see cref="GenerationService.CancelAsync(Guid, string?, CancellationToken)"/> did.</summary>
public abstract record CancelOutcome
{
    private CancelOutcome() { }

    public sealed record NotFound : CancelOutcome;

    /// <summary>It was queued and is now canceled.</summary>
    public sealed record Canceled(GenerationDetails Generation) : CancelOutcome;

    /// <summary>It is running; its worker was asked to stop (within one step).</summary>
    public sealed record Requested(GenerationDetails Generation) : CancelOutcome;

    /// <summary>It had already finished; nothing changed.</summary>
    public sealed record AlreadyFinished(GenerationDetails Generation) : CancelOutcome;
}
