using System.Security.Claims;
using System.Text.Encodings.Web;
using FuseDream.Access;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace FuseDream.Api.Hosting;

/// <summary>
/// <c>Authorization: Bearer fd_…</c>: checks the key against <see cref="ApiKeyStore"/> on every
/// request (no cache, so a revocation holds from the next request). Refusals are problem
/// details: 401 with <c>WWW-Authenticate: Bearer</c> (RFC 6750) saying why, 403 naming the
/// scope the endpoint needs.
/// </summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    ApiKeyStore keys,
    IProblemDetailsService problems)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string Realm = "FuseDream";

    /// <summary>The claim carrying each granted scope.</summary>
    public const string ScopeClaim = "scope";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        // The open endpoints (health) never look a key up: they must answer while the database is down.
        if (Context.GetEndpoint()?.Metadata.GetMetadata<IAllowAnonymous>() is not null) return AuthenticateResult.NoResult();
        string? header = Request.Headers.Authorization;
        if (string.IsNullOrEmpty(header)) return AuthenticateResult.NoResult();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            return AuthenticateResult.Fail("the Authorization header must be 'Bearer <API key>'");
        var check = await keys.AuthenticateAsync(header["Bearer ".Length..].Trim(), Context.RequestAborted);
        if (check.Key is null || check.Refusal is not null) return AuthenticateResult.Fail(check.Reason);

        var key = check.Key;
        var claims = new List<Claim> { new(ClaimTypes.NameIdentifier, key.Id), new(ClaimTypes.Name, key.Name) };
        claims.AddRange(key.Scopes.Select(s => new Claim(ScopeClaim, s)));
        var principal = new ClaimsPrincipal(new ClaimsIdentity(claims, SchemeName));
        return AuthenticateResult.Success(new AuthenticationTicket(principal, SchemeName));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var result = await HandleAuthenticateOnceSafeAsync();
        var reason = result.Failure?.Message;
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        // RFC 6750 §3: no error code when the request carried no credentials at all.
        Response.Headers[HeaderNames.WWWAuthenticate] = reason is null
            ? $"Bearer realm=\"{Realm}\""
            : $"Bearer realm=\"{Realm}\", error=\"invalid_token\", error_description=\"{reason.Replace("\"", "'", StringComparison.Ordinal)}\"";
        await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = Context,
            ProblemDetails = new ProblemDetails
            {
                Status = StatusCodes.Status401Unauthorized,
                Title = reason is null ? "An API key is required." : "The API key was refused.",
                Detail = reason is null
                    ? "Send 'Authorization: Bearer <API key>'; an administrator creates keys with 'FuseDream.Worker keys create' or POST /v1/keys."
                    : $"Refused: {reason}.",
            },
        });
    }

    protected override async Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        var needed = Context.GetEndpoint()?.Metadata.GetOrderedMetadata<IAuthorizeData>()
            .Select(a => a.Policy).OfType<string>().Distinct().ToList() ?? [];
        var granted = Context.User.FindAll(ScopeClaim).Select(c => c.Value).ToList();
        var missing = needed.Where(scope => !ApiKeyScopes.Allows(granted, scope)).ToList();
        Response.StatusCode = StatusCodes.Status403Forbidden;
        await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = Context,
            ProblemDetails = new ProblemDetails
            {
                Status = StatusCodes.Status403Forbidden,
                Title = "The API key lacks a scope this endpoint needs.",
                Detail = $"This endpoint needs scope '{string.Join("' and '", missing)}'; the key has {(granted.Count == 0 ? "none" : string.Join(", ", granted))}.",
                Extensions = { ["missingScopes"] = missing, ["requiredScopes"] = needed, ["grantedScopes"] = granted },
            },
        });
    }
}

/// <summary>Who is calling, from the authenticated key's claims.</summary>
public static class ApiKeyClaims
{
    /// <summary>The calling key's id (the API is only reached authenticated, so it is there).</summary>
    public static string KeyId(this ClaimsPrincipal user) =>
        user.FindFirstValue(ClaimTypes.NameIdentifier) ?? throw new InvalidOperationException("The request is not authenticated with an API key.");

    public static bool HasScope(this ClaimsPrincipal user, string scope) =>
        ApiKeyScopes.Allows(user.FindAll(ApiKeyAuthenticationHandler.ScopeClaim).Select(c => c.Value), scope);

    public static bool IsAdmin(this ClaimsPrincipal user) => user.HasClaim(ApiKeyAuthenticationHandler.ScopeClaim, ApiKeyScopes.Admin);

    /// <summary>Whose generations the caller sees: its own, or (admin) everyone's (null).</summary>
    public static string? OwnerFilter(this ClaimsPrincipal user) => user.IsAdmin() ? null : user.KeyId();
}
