namespace FuseDream.Api.Hosting;

/// <summary>
/// The web page for trying the service (<c>wwwroot/</c>): <c>/</c> is <c>index.html</c>, its
/// modules are under <c>/app</c> and uPlot under <c>/vendor</c>. Static files, no key needed to
/// load them; the page itself calls the public API with the key the user enters.
/// </summary>
public static class WebPage
{
    /// <summary>Whether <paramref name="path"/> is the page or one of its files (which get <see cref="SecurityHeaders.PagePolicy"/>).</summary>
    public static bool Serves(PathString path) =>
        path == "/" || path == "/index.html" || path.StartsWithSegments("/app") || path.StartsWithSegments("/vendor");

    public static WebApplication UseWebPage(this WebApplication app)
    {
        app.UseDefaultFiles();
        app.UseStaticFiles(new StaticFileOptions
        {
            // The page changes with the service: always revalidate (ETag) rather than cache stale modules.
            OnPrepareResponse = context => context.Context.Response.Headers.CacheControl = "no-cache",
        });
        return app;
    }
}
