namespace FuseDream.Api.Hosting;

/// <summary>
/// The headers every answer carries. The API speaks JSON and PNG, so its Content-Security-Policy
/// allows nothing at all; the web page gets a policy of its own (this origin only, no inline script), and Swagger UI, an HTML page with its own scripts, styles and inline
/// SVG images, gets a policy that lets it run from this origin. HSTS is not here: it comes from
/// <c>UseHsts</c>, outside Development and only on HTTPS requests.
/// </summary>
public static class SecurityHeaders
{
    public const string ApiPolicy = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

    // Swashbuckle's index.html loads its scripts and styles from /swagger and sets styles
    // inline; its icons are data: URIs; "Try it out" calls this origin.
    public const string SwaggerPolicy = "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
        + "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'";

    // The web page (/, /app, /vendor): its own scripts and styles only, no inline script; images
    // are the service's PNGs, fetched with the key and shown as blob: URLs; fetch() calls this origin.
    public const string PagePolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
        + "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

    public const string ReferrerPolicy = "no-referrer";

    public static IApplicationBuilder UseSecurityHeaders(this IApplicationBuilder app) => app.Use((context, next) =>
    {
        // Set before the handler runs, so error answers written by any later middleware carry them too.
        var headers = context.Response.Headers;
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = ReferrerPolicy;
        // The job dashboard is an HTML page of the same kind (its own scripts and styles from this origin).
        var path = context.Request.Path;
        headers.ContentSecurityPolicy = path.StartsWithSegments("/swagger") || path.StartsWithSegments("/hangfire") ? SwaggerPolicy
            : WebPage.Serves(path) ? PagePolicy
            : ApiPolicy;
        headers.XFrameOptions = "DENY";
        return next(context);
    });
}
