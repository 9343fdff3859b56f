using System.Diagnostics;
using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace FuseDream.Api.Apis;

/// <summary>Liveness (the process answers) and readiness (its dependencies answer).</summary>
public static class HealthApi
{
    public static IEndpointRouteBuilder MapHealthApi(this IEndpointRouteBuilder app)
    {
        app.MapHealthChecks("/health/live", new HealthCheckOptions
        {
            Predicate = _ => false,
            ResponseWriter = WriteJson,
        }).WithTags("Health").AllowAnonymous();
        app.MapHealthChecks("/health/ready", new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains("ready"),
            ResponseWriter = WriteJson,
        }).WithTags("Health").AllowAnonymous();
        return app;
    }

    /// <summary>
    /// Healthy: a JSON report. Otherwise (503) the same report as problem details, as every
    /// non-2xx answer of this API is; <c>checks</c> says which dependency is missing. A check
    /// that threw is reported by name only: the framework would put the exception's text
    /// (hosts, users, paths) in its description, and that belongs in the log, which the
    /// answer's <c>traceId</c> finds.
    /// </summary>
    private static Task WriteJson(HttpContext context, HealthReport report)
    {
        var checks = report.Entries.ToDictionary(e => e.Key, e => new
        {
            status = e.Value.Status.ToString(),
            description = e.Value.Exception is null ? e.Value.Description : "The check failed; the details are in the service's log.",
        });
        if (context.Response.StatusCode < 300)
        {
            context.Response.ContentType = "application/json";
            return context.Response.WriteAsync(JsonSerializer.Serialize(new { status = report.Status.ToString(), checks }, JsonSerializerOptions.Web));
        }
        context.Response.ContentType = "application/problem+json";
        var failing = checks.Where(c => c.Value.status != nameof(HealthStatus.Healthy)).Select(c => $"{c.Key}: {c.Value.description}");
        var problem = new
        {
            title = "Not ready.",
            status = context.Response.StatusCode,
            detail = string.Join(" ", failing),
            checks,
            traceId = Activity.Current?.Id ?? context.TraceIdentifier,
        };
        return context.Response.WriteAsync(JsonSerializer.Serialize(problem, JsonSerializerOptions.Web));
    }
}
