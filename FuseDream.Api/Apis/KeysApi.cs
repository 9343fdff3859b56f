using FuseDream.Access;
using Microsoft.AspNetCore.Http.HttpResults;

namespace FuseDream.Api.Apis;

/// <summary>
/// <c>/v1/keys</c> (scope <c>admin</c>): create, list and revoke API keys. A key's text and its
/// webhook secret are in the creation's answer only; the service keeps a hash of the key.
/// </summary>
public static class KeysApi
{
    public static IEndpointRouteBuilder MapKeysApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/v1/keys").WithTags("Keys").RequireAuthorization(ApiKeyScopes.Admin);
        api.MapPost("/", CreateAsync)
            .WithName("CreateKey")
            .WithSummary("Create an API key; its text and webhook secret are shown in this answer only");
        api.MapGet("/", ListAsync)
            .WithName("ListKeys")
            .WithSummary("Every API key (never their secrets), newest first");
        api.MapGet("/{id}", GetAsync)
            .WithName("GetKey")
            .WithSummary("One API key");
        api.MapDelete("/{id}", RevokeAsync)
            .WithName("RevokeKey")
            .WithSummary("Revoke an API key: refused from the next request on");
        return app;
    }

    public static async Task<Results<Created<CreatedKeyResponse>, ValidationProblem>> CreateAsync(
        CreateKeyRequest body, ApiKeyStore keys, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        if (string.IsNullOrWhiteSpace(body.Name) || body.Name.Trim().Length > 100)
            errors["name"] = ["is required: 1 to 100 characters naming who or what uses the key"];
        var scopes = body.Scopes ?? [];
        if (scopes.Count == 0)
            errors["scopes"] = [$"is required: one or more of {string.Join(", ", ApiKeyScopes.All)}"];
        else if (ApiKeyScopes.Unknown(scopes) is { Count: > 0 } unknown)
            errors["scopes"] = [$"has unknown scope(s) {string.Join(", ", unknown)}; known scopes: {string.Join(", ", ApiKeyScopes.All)}"];
        if (body.ExpiresAt is { } expires && expires <= DateTimeOffset.UtcNow)
            errors["expiresAt"] = ["must be in the future (or omitted: the key does not expire)"];
        if (errors.Count > 0) return TypedResults.ValidationProblem(errors, title: "The request is invalid.");

        var created = await keys.CreateAsync(body.Name!, [.. scopes], body.ExpiresAt, cancellationToken);
        return TypedResults.Created($"/v1/keys/{created.Key.Id}", new CreatedKeyResponse(
            created.Key.Id, created.Key.Name, created.Key.Scopes, created.Key.CreatedAt, created.Key.ExpiresAt, created.Token, created.WebhookSecret));
    }

    public static async Task<Ok<IReadOnlyList<KeyResponse>>> ListAsync(ApiKeyStore keys, CancellationToken cancellationToken) =>
        TypedResults.Ok<IReadOnlyList<KeyResponse>>([.. (await keys.ListAsync(cancellationToken)).Select(ToResponse)]);

    public static async Task<Results<Ok<KeyResponse>, ProblemHttpResult>> GetAsync(string id, ApiKeyStore keys, CancellationToken cancellationToken) =>
        await keys.GetAsync(id, cancellationToken) is { } key ? TypedResults.Ok(ToResponse(key)) : NotFound(id);

    public static async Task<Results<Ok<KeyResponse>, ProblemHttpResult>> RevokeAsync(string id, ApiKeyStore keys, CancellationToken cancellationToken) =>
        await keys.RevokeAsync(id, cancellationToken) is { } key ? TypedResults.Ok(ToResponse(key)) : NotFound(id);

    private static KeyResponse ToResponse(ApiKey key) => new(key.Id, key.Name, key.Scopes, key.CreatedAt, key.ExpiresAt, key.RevokedAt);

    private static ProblemHttpResult NotFound(string id) =>
        TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such API key.", detail: $"No API key has id '{id}'.");
}

/// <summary>A new API key.</summary>
/// <param name="Name">Who or what uses it (1–100 characters).</param>
/// <param name="Scopes">One or more of <c>generate</c>, <c>read</c>, <c>admin</c>.</param>
/// <param name="ExpiresAt">When it stops working (omitted: never).</param>
public sealed record CreateKeyRequest(string? Name, IReadOnlyList<string>? Scopes, DateTimeOffset? ExpiresAt);

/// <summary>An API key as listed: never its secret.</summary>
public sealed record KeyResponse(string Id, string Name, IReadOnlyList<string> Scopes, DateTimeOffset CreatedAt, DateTimeOffset? ExpiresAt, DateTimeOffset? RevokedAt);

/// <summary>A key just created. <paramref name="Key"/> (send as <c>Authorization: Bearer …</c>) and <paramref name="WebhookSecret"/> are shown only here.</summary>
public sealed record CreatedKeyResponse(
    string Id, string Name, IReadOnlyList<string> Scopes, DateTimeOffset CreatedAt, DateTimeOffset? ExpiresAt, string Key, string WebhookSecret);
