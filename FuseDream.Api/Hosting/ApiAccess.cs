using System.Globalization;
using System.Threading.RateLimiting;
using FuseDream.Access;
using FuseDream.Api.Apis;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace FuseDream.Api.Hosting;

/// <summary>
/// Who may call the API and how much: API keys (<see cref="ApiKeyAuthenticationHandler"/>), one
/// authorisation policy per scope (named as the scope; every endpoint without one needs
/// <c>read</c>), a token bucket per key (<see cref="AccessOptions.RequestsPerMinute"/>), and
/// Kestrel's limits on bodies, headers and the request line. All of it is the framework's own
/// machinery, configured here.
/// </summary>
public static class ApiAccess
{
    /// <summary>The largest request body any endpoint accepts (64 KiB); Kestrel refuses more, chunked or not.</summary>
    public const int MaxRequestBodyBytes = GenerationsApi.MaxRequestBodyBytes;

    /// <summary>Kestrel's header limits: all headers together, and the request line (method, path and query).</summary>
    public const int MaxRequestHeadersTotalBytes = 16 * 1024, MaxRequestLineBytes = 8 * 1024, MaxRequestHeaderCount = 64;

    public static WebApplicationBuilder AddApiAccess(this WebApplicationBuilder builder)
    {
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.MaxRequestBodySize = MaxRequestBodyBytes;
            kestrel.Limits.MaxRequestHeadersTotalSize = MaxRequestHeadersTotalBytes;
            kestrel.Limits.MaxRequestLineSize = MaxRequestLineBytes;
            kestrel.Limits.MaxRequestHeaderCount = MaxRequestHeaderCount;
        });

        // No default scheme: a key is looked up only where a policy asks for it (never for the
        // open health endpoints, which must answer while the database is down).
        builder.Services.AddAuthentication()
            .AddScheme<Microsoft.AspNetCore.Authentication.AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(ApiKeyScopes.Generate, p => RequireScope(p, ApiKeyScopes.Generate))
            .AddPolicy(ApiKeyScopes.Read, p => RequireScope(p, ApiKeyScopes.Read))
            .AddPolicy(ApiKeyScopes.Admin, p => RequireScope(p, ApiKeyScopes.Admin))
            // An endpoint that names no policy is not open by accident: it needs a read key.
            .SetFallbackPolicy(RequireScope(new AuthorizationPolicyBuilder(), ApiKeyScopes.Read).Build());

        builder.Services.AddRateLimiter(limiter =>
        {
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limiter.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(context =>
            {
                // Only authenticated calls are counted, each key on its own bucket; the open
                // endpoints (health) and refused keys are not (a refusal costs one lookup).
                if (context.User.Identity?.IsAuthenticated != true) return RateLimitPartition.GetNoLimiter("anonymous");
                var access = context.RequestServices.GetRequiredService<IOptions<AccessOptions>>().Value;
                return RateLimitPartition.GetTokenBucketLimiter(context.User.KeyId(), _ => new TokenBucketRateLimiterOptions
                {
                    TokenLimit = access.RequestsPerMinute,
                    TokensPerPeriod = 1,
                    // Refilled evenly: one request's worth every window / allowance.
                    ReplenishmentPeriod = access.RateWindow / access.RequestsPerMinute,
                    QueueLimit = 0,
                    AutoReplenishment = true,
                });
            });
            limiter.OnRejected = async (rejected, cancellationToken) =>
            {
                var context = rejected.HttpContext;
                var access = context.RequestServices.GetRequiredService<IOptions<AccessOptions>>().Value;
                var retryAfter = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : access.RateWindow / access.RequestsPerMinute;
                var seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));
                context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
                await context.RequestServices.GetRequiredService<IProblemDetailsService>().TryWriteAsync(new ProblemDetailsContext
                {
                    HttpContext = context,
                    ProblemDetails = new ProblemDetails
                    {
                        Status = StatusCodes.Status429TooManyRequests,
                        Title = "Too many requests for this API key.",
                        Detail = string.Format(CultureInfo.InvariantCulture,
                            "A key may make {0} requests per {1} ({2}:{3}); retry after {4} s.",
                            access.RequestsPerMinute, Describe(access.RateWindow), AccessOptions.Section, nameof(AccessOptions.RequestsPerMinute), seconds),
                        Extensions =
                        {
                            ["limit"] = $"{AccessOptions.Section}:{nameof(AccessOptions.RequestsPerMinute)}",
                            ["requestsPerWindow"] = access.RequestsPerMinute,
                            ["windowSeconds"] = access.RateWindow.TotalSeconds,
                            ["retryAfterSeconds"] = seconds,
                        },
                    },
                });
            };
        });
        return builder;
    }

    /// <summary>
    /// Authorisation, which authenticates with the policies' scheme where an endpoint needs a key
    /// (no <c>UseAuthentication</c>: that would look a key up on every request, health included),
    /// then the per-key rate limit (it partitions by the authenticated key).
    /// </summary>
    public static WebApplication UseApiAccess(this WebApplication app)
    {
        app.UseAuthorization();
        app.UseRateLimiter();
        return app;
    }

    private static AuthorizationPolicyBuilder RequireScope(AuthorizationPolicyBuilder policy, string scope) =>
        policy.AddAuthenticationSchemes(ApiKeyAuthenticationHandler.SchemeName)
            .RequireAuthenticatedUser()
            .RequireAssertion(context => context.User.HasScope(scope));

    private static string Describe(TimeSpan window) =>
        window == TimeSpan.FromMinutes(1) ? "minute" : $"{window.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s";
}
