using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Security.Claims;
using FuseDream.Access;
using FuseDream.Api.Hosting;
using FuseDream.Generation;
using FuseDream.Generations;
using FuseDream.Storage;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using FuseDream.Persistence;

namespace FuseDream.Api.Apis;

/// <summary>
/// <c>/v1/generations</c>: submit, follow, list, cancel, and fetch images, traces and previews.
/// The handlers read HTTP and map outcomes to results; submitting and canceling are
/// <see cref="GenerationService"/>'s, reads are <see cref="GenerationRepository"/>'s.
/// </summary>
public static class GenerationsApi
{
    /// <summary>Header that makes <c>POST /v1/generations</c> idempotent.</summary>
    public const string IdempotencyHeader = "Idempotency-Key";

    /// <summary>The largest body <c>POST /v1/generations</c> reads (64 KiB); a larger one is refused with 413.</summary>
    public const int MaxRequestBodyBytes = 64 * 1024;

    /// <summary>Header with which an event-stream client resumes after the last event it received.</summary>
    public const string LastEventIdHeader = "Last-Event-ID";

    /// <summary>Results never change once written, so they may be cached for a year.</summary>
    private const string ImmutableCaching = "public, max-age=31536000, immutable";

    public static IEndpointRouteBuilder MapGenerationsApi(this IEndpointRouteBuilder app)
    {
        // Reads need `read`; submitting and canceling need `generate`. A key sees only the
        // generations it created (admin: all): another key's id answers 404, as a missing one.
        var api = app.MapGroup("/v1/generations").WithTags("Generations").RequireAuthorization(ApiKeyScopes.Read);

        api.MapPost("/", CreateAsync)
            .WithName("CreateGeneration")
            .WithSummary("Submit a prompt; returns at once with the generation's id")
            .WithDescription("Validates the request (prompt ≤ 77 CLIP tokens, known model and preset, every option within its range) before anything is stored, " +
                             "then queues the generation. With an Idempotency-Key header, repeating the same request returns the same generation; " +
                             "reusing the key with a different request is refused with 422.")
            .Accepts<CreateGenerationRequest>("application/json")
            .RequireAuthorization(ApiKeyScopes.Generate)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status429TooManyRequests);
        api.MapGet("/", ListAsync)
            .WithName("ListGenerations")
            .WithSummary("List generations, newest first, with cursor paging and an optional status filter");
        api.MapGet("/{id:guid}", GetAsync)
            .WithName("GetGeneration")
            .WithSummary("Status, queue position, progress and, once done, the result of a generation");
        api.MapPost("/{id:guid}/cancel", CancelAsync)
            .WithName("CancelGeneration")
            .WithSummary("Cancel: a queued generation at once, a running one within one optimisation step; 409 once finished")
            .RequireAuthorization(ApiKeyScopes.Generate);
        api.MapGet("/{id:guid}/image", GetImageAsync)
            .WithName("GetGenerationImage")
            .WithSummary("The final PNG (with an ETag; immutable)")
            .Produces(StatusCodes.Status200OK, contentType: "image/png");
        api.MapGet("/{id:guid}/components/{index:int}", GetComponentImageAsync)
            .WithName("GetGenerationComponentImage")
            .WithSummary("A composed generation's component image, by its index in the request's components (0: the background; immutable)")
            .Produces(StatusCodes.Status200OK, contentType: "image/png")
            .ProducesProblem(StatusCodes.Status404NotFound);
        api.MapGet("/{id:guid}/composite", GetCompositeImageAsync)
            .WithName("GetGenerationComposite")
            .WithSummary("A composed generation's naive composite: the components cut and pasted into their boxes, for comparison (immutable)")
            .Produces(StatusCodes.Status200OK, contentType: "image/png")
            .ProducesProblem(StatusCodes.Status404NotFound);
        api.MapGet("/{id:guid}/trace", GetTraceAsync)
            .WithName("GetGenerationTrace")
            .WithSummary("The score trace: JSON, or CSV with Accept: text/csv")
            .Produces<TraceResponse>(StatusCodes.Status200OK, "application/json", "text/csv");
        api.MapGet("/{id:guid}/trace.png", GetTracePlotAsync)
            .WithName("GetGenerationTracePlot")
            .WithSummary("The score trace drawn as a PNG: AugCLIP and loss by step (immutable)")
            .Produces<Stream>(StatusCodes.Status200OK, "image/png");
        api.MapGet("/{id:guid}/events", StreamEventsAsync)
            .WithName("StreamGenerationEvents")
            .WithSummary("Live progress as Server-Sent Events, ending after the final state")
            .WithDescription("A text/event-stream of `progress` events (status, phase, step/total, percent, AugCLIP, ETA, queue position, " +
                             "the preview links written since the previous event) and one `final` event with the final state, after which the stream ends. " +
                             "Event ids grow with every event of a generation: reconnect with the `Last-Event-ID` header to receive only later events. " +
                             "A `: ping` comment is sent when the stream has been silent for a while. Browsers' EventSource cannot send the " +
                             "Authorization header: read the stream with fetch() instead.")
            // With a body type, so that the OpenAPI document keeps the media type.
            .Produces<string>(StatusCodes.Status200OK, "text/event-stream")
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status404NotFound);
        api.MapGet("/{id:guid}/webhooks", ListWebhookDeliveriesAsync)
            .WithName("ListGenerationWebhookDeliveries")
            .WithSummary("The delivery log of the generation's webhook: each event's attempts and the receiver's last answer");
        api.MapGet("/{id:guid}/previews", ListPreviewsAsync)
            .WithName("ListGenerationPreviews")
            .WithSummary("All of a generation's previews by step, with cursor paging");
        api.MapGet("/{id:guid}/previews/{step:int}", GetPreviewAsync)
            .WithName("GetGenerationPreview")
            .WithSummary("The preview PNG written at an optimisation step")
            .Produces(StatusCodes.Status200OK, contentType: "image/png");
        return app;
    }

    public static async Task<Results<Accepted<GenerationResponse>, ValidationProblem, ProblemHttpResult>> CreateAsync(
        HttpRequest request,
        ClaimsPrincipal user,
        [FromHeader(Name = IdempotencyHeader)] string? idempotencyKey,
        [AsParameters] GenerationApiServices services,
        CancellationToken cancellationToken)
    {
        var key = idempotencyKey?.Trim();
        if (key is not null && (key.Length is 0 or > 200 || request.Headers[IdempotencyHeader].Count > 1))
            return TypedResults.ValidationProblem(
                new Dictionary<string, string[]> { [IdempotencyHeader] = ["must be a single non-empty value of at most 200 characters"] },
                title: "The request is invalid.");

        // Set before the first read: Kestrel refuses a larger Content-Length at that read, and
        // stops a chunked body as soon as it passes the limit.
        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodySize)
            bodySize.MaxRequestBodySize = MaxRequestBodyBytes;
        ValidatedGeneration? generation;
        Dictionary<string, string[]>? errors;
        try
        {
            // An admin key may ask for runs over the per-request cost limit.
            (generation, errors) = await services.Reader.ReadAsync(request, cancellationToken, unlimitedCost: user.IsAdmin());
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return BodyTooLarge();
        }
        if (errors is not null)
            return TypedResults.ValidationProblem(errors, title: "The request is invalid.");
        // Resolved now, before anything is stored: a webhook must not point inside the network.
        if (generation!.Webhook is { } webhook && await services.WebhookGuard.ProblemAsync(webhook, cancellationToken) is { } webhookProblem)
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["webhook"] = [webhookProblem] }, title: "The request is invalid.");

        var outcome = await services.Generations.SubmitAsync(
            new GenerationSubmission(generation!.Prompt, generation.Seed, generation.Preset, generation.Options, generation.RequestHash, key)
            {
                OwnerKeyId = user.KeyId(),
                WebhookUrl = generation.Webhook,
                WebhookEvents = generation.WebhookEvents,
                Scene = generation.Scene,
            },
            cancellationToken);
        if (outcome is SubmitOutcome.Accepted { Replayed: true } or SubmitOutcome.QueueUnavailable { Replayed: true })
            request.HttpContext.Response.Headers["Idempotent-Replayed"] = "true";
        return outcome switch
        {
            SubmitOutcome.Accepted accepted =>
                TypedResults.Accepted(GenerationResponses.SelfUrl(accepted.Generation.Record.Id), GenerationResponses.ToResponse(accepted.Generation)),
            SubmitOutcome.KeyConflict conflict =>
                TypedResults.Problem(new HttpValidationProblemDetails(new Dictionary<string, string[]>
                {
                    [IdempotencyHeader] = [$"was already used for generation {conflict.ExistingId} with a different request; use a new key for a new request"],
                })
                {
                    Status = StatusCodes.Status422UnprocessableEntity,
                    Title = "Idempotency-Key reused with a different request.",
                }),
            SubmitOutcome.QueueUnavailable { Replayed: true } =>
                QueueUnavailable("The generation is stored; repeat the request with the same Idempotency-Key."),
            SubmitOutcome.QueueUnavailable =>
                QueueUnavailable("Nothing was stored; try again."),
            SubmitOutcome.TooManyActive tooMany => TooManyActive(request.HttpContext.Response, tooMany),
            SubmitOutcome.ClipsUnavailable unavailable =>
                TypedResults.ValidationProblem(
                    unavailable.Missing.GroupBy(m => $"clips[{m.Index}].model").ToDictionary(g => g.Key, g => g.Select(m => m.Reason).ToArray()),
                    title: "The request is invalid."),
            SubmitOutcome.NoWorker noWorker =>
                TypedResults.Problem(statusCode: StatusCodes.Status503ServiceUnavailable,
                    title: $"No worker serves {noWorker.Model}.", detail: $"Nothing was stored: {noWorker.Reason}"),
            _ => throw new UnreachableException(),
        };
    }

    public static async Task<Results<Ok<GenerationPage>, ValidationProblem>> ListAsync(
        ClaimsPrincipal user,
        [AsParameters] GenerationApiServices services,
        [FromQuery] string? status,
        [FromQuery] string? cursor,
        [FromQuery, System.ComponentModel.DataAnnotations.Range(1, 100)] int? limit,
        CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        GenerationStatus? filter = null;
        if (status is not null)
        {
            if (GenerationStatusNames.TryParse(status, out var parsed)) filter = parsed;
            else errors["status"] = [$"unknown status '{status}'; allowed: {string.Join(", ", GenerationStatusNames.All)}"];
        }
        long? before = null;
        if (cursor is not null)
        {
            if (GenerationResponses.TryDecodeCursor(cursor, out var sequence)) before = sequence;
            else errors["cursor"] = ["is not a cursor this API returned: pass nextCursor from the previous page unchanged"];
        }
        var pageSize = limit ?? 20;
        if (pageSize is < 1 or > 100)
            errors["limit"] = [$"must be between 1 and 100 (got {pageSize})"];
        if (errors.Count > 0) return TypedResults.ValidationProblem(errors, title: "The request is invalid.");

        var (items, next) = await services.Repository.ListAsync(filter, before, pageSize, user.OwnerFilter(), cancellationToken);
        return TypedResults.Ok(new GenerationPage([.. items.Select(GenerationResponses.ToResponse)], next is { } n ? GenerationResponses.EncodeCursor(n) : null));
    }

    public static async Task<Results<Ok<GenerationResponse>, ProblemHttpResult>> GetAsync(
        Guid id, ClaimsPrincipal user, [AsParameters] GenerationApiServices services, CancellationToken cancellationToken)
    {
        var details = await services.Repository.GetDetailsAsync(id, user.OwnerFilter(), cancellationToken);
        return details is null ? NotFound(id) : TypedResults.Ok(GenerationResponses.ToResponse(details));
    }

    public static async Task<Results<Ok<GenerationResponse>, Accepted<GenerationResponse>, ProblemHttpResult>> CancelAsync(
        Guid id, ClaimsPrincipal user, [AsParameters] GenerationApiServices services, CancellationToken cancellationToken) =>
        await services.Generations.CancelAsync(id, user.OwnerFilter(), cancellationToken) switch
        {
            CancelOutcome.Canceled canceled => TypedResults.Ok(GenerationResponses.ToResponse(canceled.Generation)),
            CancelOutcome.Requested requested => TypedResults.Accepted(GenerationResponses.SelfUrl(id), GenerationResponses.ToResponse(requested.Generation)),
            CancelOutcome.AlreadyFinished finished => TypedResults.Problem(statusCode: StatusCodes.Status409Conflict,
                title: "The generation has already finished.",
                detail: $"Generation {id} is {finished.Generation.Record.Status.ToName()}; only queued or running generations can be canceled."),
            CancelOutcome.NotFound => NotFound(id),
            _ => throw new UnreachableException(),
        };

    public static async Task<Results<FileStreamHttpResult, ProblemHttpResult>> GetImageAsync(
        Guid id, ClaimsPrincipal user, [AsParameters] GenerationApiServices services, HttpResponse response, CancellationToken cancellationToken)
    {
        var record = await services.Repository.GetAsync(id, user.OwnerFilter(), cancellationToken);
        if (record is null) return NotFound(id);
        if (record.Status != GenerationStatus.Succeeded || record.ImageKey is null)
            return NotYet(id, record, "image");
        return await BlobAsync(services.Blobs, record.ImageKey, response, cancellationToken) is { } image ? image : MissingBlob(id);
    }

    public static async Task<Results<FileStreamHttpResult, ProblemHttpResult>> GetComponentImageAsync(
        Guid id, int index, ClaimsPrincipal user, [AsParameters] GenerationApiServices services, HttpResponse response, CancellationToken cancellationToken)
    {
        var record = await services.Repository.GetAsync(id, user.OwnerFilter(), cancellationToken);
        if (record is null) return NotFound(id);
        if (record.Scene is null) return NotComposed(id);
        var count = record.Scene.Components.Count;
        if (index < 0 || index >= count)
            return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such component.",
                detail: $"Generation {id} has {count} components, indexed 0 to {count - 1} as in its request (0: the background); there is no component {index}.");
        if (record.Status != GenerationStatus.Succeeded || record.ComponentImageKeys.Count != count)
            return NotYet(id, record, "component image");
        return await BlobAsync(services.Blobs, record.ComponentImageKeys[index], response, cancellationToken) is { } image ? image : MissingBlob(id);
    }

    public static async Task<Results<FileStreamHttpResult, ProblemHttpResult>> GetCompositeImageAsync(
        Guid id, ClaimsPrincipal user, [AsParameters] GenerationApiServices services, HttpResponse response, CancellationToken cancellationToken)
    {
        var record = await services.Repository.GetAsync(id, user.OwnerFilter(), cancellationToken);
        if (record is null) return NotFound(id);
        if (record.Scene is null) return NotComposed(id);
        if (record.Status != GenerationStatus.Succeeded || record.CompositeImageKey is null)
            return NotYet(id, record, "composite");
        return await BlobAsync(services.Blobs, record.CompositeImageKey, response, cancellationToken) is { } image ? image : MissingBlob(id);
    }

    public static async Task<Results<FileStreamHttpResult, ProblemHttpResult>> GetPreviewAsync(
        Guid id, int step, ClaimsPrincipal user, [AsParameters] GenerationApiServices services, HttpResponse response, CancellationToken cancellationToken)
    {
        var record = await services.Repository.GetAsync(id, user.OwnerFilter(), cancellationToken);
        if (record is null) return NotFound(id);
        var preview = await services.Repository.GetPreviewAsync(id, step, cancellationToken);
        if (preview is null)
            return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such preview.",
                detail: record.Options.PreviewEvery == 0
                    ? $"Generation {id} has no previews (previewEvery was {record.Options.PreviewEvery})."
                    : $"Generation {id} has no preview at step {step}; its previews are listed at {GenerationResponses.SelfUrl(id)}/previews.");
        return await BlobAsync(services.Blobs, preview.BlobKey, response, cancellationToken) is { } png ? png : MissingBlob(id);
    }

    public static async Task<Results<Ok<PreviewPage>, ValidationProblem, ProblemHttpResult>> ListPreviewsAsync(
        Guid id,
        ClaimsPrincipal user,
        [AsParameters] GenerationApiServices services,
        [FromQuery] string? cursor,
        [FromQuery, System.ComponentModel.DataAnnotations.Range(1, 100)] int? limit,
        CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        int? after = null;
        if (cursor is not null)
        {
            if (int.TryParse(cursor, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var step)) after = step;
            else errors["cursor"] = ["is not a cursor this API returned: pass nextCursor from the previous page unchanged"];
        }
        var pageSize = limit ?? 50;
        if (pageSize is < 1 or > 100)
            errors["limit"] = [$"must be between 1 and 100 (got {pageSize})"];
        if (errors.Count > 0) return TypedResults.ValidationProblem(errors, title: "The request is invalid.");

        var details = await services.Repository.GetDetailsAsync(id, user.OwnerFilter(), cancellationToken);
        if (details is null) return NotFound(id);
        var (items, next) = await services.Repository.ListPreviewsAsync(id, after, pageSize, cancellationToken);
        var self = GenerationResponses.SelfUrl(id);
        return TypedResults.Ok(new PreviewPage(id, details.PreviewCount,
            [.. items.Select(p => new PreviewLink(p.Step, $"{self}/previews/{p.Step}"))],
            next?.ToString(System.Globalization.CultureInfo.InvariantCulture)));
    }

    public static async Task<Results<Ok<TraceResponse>, ContentHttpResult, ProblemHttpResult>> GetTraceAsync(
        Guid id, HttpRequest request, ClaimsPrincipal user, [AsParameters] GenerationApiServices services, CancellationToken cancellationToken)
    {
        var record = await services.Repository.GetAsync(id, user.OwnerFilter(), cancellationToken);
        if (record is null) return NotFound(id);
        if (record.Status != GenerationStatus.Succeeded) return NotYet(id, record, "trace");
        var points = await services.Repository.GetTraceAsync(id, cancellationToken);
        if (!WantsCsv(request))
            return TypedResults.Ok(new TraceResponse(id, record.Score, points)
            {
                Composition = record.Scene is null ? null : await services.Repository.GetCompositionTraceAsync(id, cancellationToken),
            });

        // With weighted prompts, one more column per prompt: its AugCLIP where the step was measured.
        var prompts = record.Options.Prompts?.Count ?? 0;
        var csv = new StringBuilder("step,loss,aug_clip");
        for (var i = 1; i <= prompts; i++) csv.Append(",aug_clip_prompt_").Append(i.ToString(CultureInfo.InvariantCulture));
        csv.Append('\n');
        foreach (var point in points)
        {
            csv.Append(point.Step.ToString(CultureInfo.InvariantCulture)).Append(',')
               .Append(point.Loss.ToString("R", CultureInfo.InvariantCulture)).Append(',')
               .Append(point.AugClip?.ToString("R", CultureInfo.InvariantCulture));
            for (var i = 0; i < prompts; i++)
                csv.Append(',').Append(point.PromptAugClip is { } scores && i < scores.Count ? scores[i].ToString("R", CultureInfo.InvariantCulture) : "");
            csv.Append('\n');
        }
        return TypedResults.Text(csv.ToString(), "text/csv; charset=utf-8");
    }

    public static async Task<Results<FileContentHttpResult, ProblemHttpResult>> GetTracePlotAsync(
        Guid id, ClaimsPrincipal user, [AsParameters] GenerationApiServices services, HttpResponse response, CancellationToken cancellationToken)
    {
        var record = await services.Repository.GetAsync(id, user.OwnerFilter(), cancellationToken);
        if (record is null) return NotFound(id);
        if (record.Status != GenerationStatus.Succeeded) return NotYet(id, record, "trace");
        var points = await services.Repository.GetTraceAsync(id, cancellationToken);
        // A finished trace never changes, so neither does its plot.
        response.Headers.CacheControl = ImmutableCaching;
        return TypedResults.File(FuseDream.Imaging.TracePlot.Render(points, record.Prompt), "image/png");
    }

    public static async Task<Results<EmptyHttpResult, ValidationProblem, ProblemHttpResult>> StreamEventsAsync(
        Guid id,
        HttpContext context,
        ClaimsPrincipal user,
        [AsParameters] GenerationApiServices services,
        GenerationEventHub hub,
        IOptions<GenerationEventOptions> options,
        IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions> json,
        IHostApplicationLifetime lifetime,
        CancellationToken cancellationToken)
    {
        long lastEventId = 0;
        var header = context.Request.Headers[LastEventIdHeader];
        if (header.Count > 0 && (header.Count > 1 || !long.TryParse(header[0], NumberStyles.None, CultureInfo.InvariantCulture, out lastEventId)))
            return TypedResults.ValidationProblem(
                new Dictionary<string, string[]> { [LastEventIdHeader] = ["must be the id of an event this stream sent (a non-negative integer)"] },
                title: "The request is invalid.");
        if (await services.Repository.GetAsync(id, user.OwnerFilter(), cancellationToken) is null) return NotFound(id);

        var response = context.Response;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-cache, no-store";
        response.Headers["X-Accel-Buffering"] = "no"; // tell a reverse proxy not to buffer the stream
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, lifetime.ApplicationStopping);
        var token = stop.Token;
        using var subscription = hub.Subscribe(id, lastEventId);
        var heartbeat = options.Value.Heartbeat;
        var serializer = json.Value.SerializerOptions;
        try
        {
            await response.WriteAsync("retry: 2000\n\n", token);
            await response.Body.FlushAsync(token);
            var ready = subscription.Reader.WaitToReadAsync(token).AsTask();
            while (true)
            {
                // A timer per wait, stopped as soon as an event comes first.
                using (var silence = CancellationTokenSource.CreateLinkedTokenSource(token))
                {
                    var delay = Task.Delay(heartbeat, silence.Token);
                    if (await Task.WhenAny(ready, delay) != ready)
                    {
                        await response.WriteAsync(": ping\n\n", token);
                        await response.Body.FlushAsync(token);
                        continue;
                    }
                    silence.Cancel();
                }
                if (!await ready) break; // the final state was sent
                while (subscription.Reader.TryRead(out var message))
                {
                    var data = System.Text.Json.JsonSerializer.Serialize(message.Data, serializer);
                    await response.WriteAsync($"id: {message.Id.ToString(CultureInfo.InvariantCulture)}\nevent: {message.Name}\ndata: {data}\n\n", token);
                }
                await response.Body.FlushAsync(token);
                ready = subscription.Reader.WaitToReadAsync(token).AsTask();
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // The client went away, or the service is stopping: the client reconnects with Last-Event-ID.
        }
        return TypedResults.Empty;
    }

    public static async Task<Results<Ok<IReadOnlyList<WebhookDeliveryResponse>>, ProblemHttpResult>> ListWebhookDeliveriesAsync(
        Guid id, ClaimsPrincipal user, [AsParameters] GenerationApiServices services, CancellationToken cancellationToken)
    {
        if (await services.Repository.GetAsync(id, user.OwnerFilter(), cancellationToken) is null) return NotFound(id);
        var deliveries = await services.WebhookDeliveries.ListAsync(id, cancellationToken);
        return TypedResults.Ok<IReadOnlyList<WebhookDeliveryResponse>>([.. deliveries.Select(d =>
            new WebhookDeliveryResponse(d.Id, d.Event, d.Status, d.Attempts, d.LastStatusCode, d.LastError, d.CreatedAt, d.UpdatedAt))]);
    }

    // ---- helpers -------------------------------------------------------------------------

    private static bool WantsCsv(HttpRequest request)
    {
        var accept = request.GetTypedHeaders().Accept;
        if (accept.Count == 0) return false;
        var csv = accept.Where(a => a.MediaType.Equals("text/csv", StringComparison.OrdinalIgnoreCase)).Select(a => a.Quality ?? 1).DefaultIfEmpty(0).Max();
        var json = accept.Where(a => a.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)).Select(a => a.Quality ?? 1).DefaultIfEmpty(0).Max();
        return csv > 0 && csv >= json;
    }

    private static async Task<FileStreamHttpResult?> BlobAsync(IBlobStore blobs, string key, HttpResponse response, CancellationToken cancellationToken)
    {
        var stream = await blobs.OpenReadAsync(key, cancellationToken);
        if (stream is null) return null;
        // Content-addressed: the key is a strong validator; the framework answers If-None-Match with 304.
        response.Headers.CacheControl = ImmutableCaching;
        return TypedResults.Stream(stream, "image/png", entityTag: new EntityTagHeaderValue($"\"{key}\""));
    }

    internal static ProblemHttpResult BodyTooLarge() =>
        TypedResults.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, title: "The request body is too large.",
            detail: $"A generation request is at most {MaxRequestBodyBytes} bytes (64 KiB) of JSON; a prompt is at most {FuseDream.Text.PromptRules.MaxCharacters} characters.");

    private static ProblemHttpResult TooManyActive(HttpResponse response, SubmitOutcome.TooManyActive outcome)
    {
        // Nothing says when a place frees up; a poll interval is an honest hint.
        response.Headers.RetryAfter = "5";
        return TypedResults.Problem(statusCode: StatusCodes.Status429TooManyRequests,
            title: "Too many generations in flight for this API key.",
            detail: $"This key has {outcome.Active} generations queued or running; a key may have at most {outcome.Limit} at once " +
                    $"({AccessOptions.Section}:{nameof(AccessOptions.MaxActiveGenerations)}). Nothing was stored: wait for one to finish, or cancel one.",
            extensions: new Dictionary<string, object?>
            {
                ["limit"] = $"{AccessOptions.Section}:{nameof(AccessOptions.MaxActiveGenerations)}",
                ["maxActiveGenerations"] = outcome.Limit,
                ["activeGenerations"] = outcome.Active,
            });
    }

    private static ProblemHttpResult QueueUnavailable(string detail) =>
        TypedResults.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "The job queue is not available.", detail: detail);

    private static ProblemHttpResult NotFound(Guid id) =>
        TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such generation.", detail: $"No generation has id {id}.");

    private static ProblemHttpResult NotComposed(Guid id) =>
        TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not a composed generation.",
            detail: $"Generation {id} was generated from a single prompt: it has no components and no composite.");

    private static ProblemHttpResult NotYet(Guid id, GenerationRecord record, string what) =>
        TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: $"The {what} is not available.",
            detail: $"Generation {id} is {record.Status.ToName()}; its {what} exists once it has succeeded.");

    private static ProblemHttpResult MissingBlob(Guid id) =>
        TypedResults.Problem(statusCode: StatusCodes.Status500InternalServerError, title: "Stored image missing.",
            detail: $"The blob of generation {id} is not in the blob store: check that the API and the workers share Blobs:Directory.");
}
