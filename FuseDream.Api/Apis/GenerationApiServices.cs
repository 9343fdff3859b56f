using FuseDream.Generations;
using FuseDream.Persistence;
using FuseDream.Storage;
using FuseDream.Webhooks;

namespace FuseDream.Api.Apis;

/// <summary>What the <see cref="GenerationsApi"/> handlers use, bound with <c>[AsParameters]</c>.</summary>
public sealed record GenerationApiServices(
    GenerationService Generations,
    GenerationRepository Repository,
    IBlobStore Blobs,
    GenerationRequestReader Reader,
    WebhookUrlGuard WebhookGuard,
    WebhookDeliveries WebhookDeliveries);
