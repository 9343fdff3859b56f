using FuseDream.Telemetry;
using Microsoft.Extensions.Options;

namespace FuseDream.Api.Hosting;

/// <summary>
/// <c>GET /metrics</c> in Prometheus' text format (<see cref="MetricsExposition"/>): the
/// process (memory, GC), ASP.NET Core's own HTTP request metrics, and the service's
/// <c>fusedream_*</c> metrics. Open unless <c>Metrics:Key</c> is set; off with <c>Metrics:Enabled=false</c>.
/// </summary>
public static class MetricsEndpoint
{
    public static WebApplication MapMetricsEndpoint(this WebApplication app)
    {
        if (!app.Services.GetRequiredService<IOptions<MetricsOptions>>().Value.Enabled) return app;
        app.MapGet("/metrics", async (HttpContext context, FuseDreamMetrics metrics, IOptions<MetricsOptions> options, CancellationToken cancellationToken) =>
        {
            if (!MetricsExposition.IsAllowed(options.Value, context.Request.Headers.Authorization))
            {
                context.Response.Headers.WWWAuthenticate = "Bearer";
                return Results.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "The metrics need a key.",
                    detail: "Send the key configured as Metrics:Key in an 'Authorization: Bearer <key>' header.");
            }
            context.Response.ContentType = MetricsExposition.ContentType;
            await MetricsExposition.WriteAsync(context.Response.Body, metrics, cancellationToken);
            return Results.Empty;
        }).ExcludeFromDescription()
          // Not an API key's business: scrapers use Metrics:Key (or a private network), checked above.
          .AllowAnonymous();
        return app;
    }
}
