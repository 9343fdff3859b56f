using System.Security.Claims;
using FuseDream.Access;
using FuseDream.Hosting;
using Hangfire;
using Hangfire.Dashboard;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.Extensions.Options;

namespace FuseDream.Api.Hosting;

/// <summary>The job dashboard's switches (section <c>Hangfire</c>).</summary>
public sealed class JobDashboardOptions
{
    public const string Section = "Hangfire";

    /// <summary>Let the dashboard change jobs (requeue, delete, trigger). Off: it only shows them.</summary>
    public bool DashboardWritable { get; set; }

    /// <summary>How long a dashboard session lasts once opened with an admin key.</summary>
    public TimeSpan DashboardSessionLifetime { get; set; } = TimeSpan.FromHours(1);
}

/// <summary>
/// Hangfire's dashboard at <c>/hangfire</c>, for admin keys only. A browser cannot send a
/// Bearer header on a page load, so an admin key is exchanged once
/// (<c>POST /v1/dashboard-session</c>) for a session cookie (HttpOnly, SameSite=Strict, Secure
/// outside Development) that names the key; every dashboard request checks that key again, so
/// revoking it closes its sessions at once. Read-only unless <see cref="JobDashboardOptions.DashboardWritable"/>.
/// </summary>
public static class JobDashboard
{
    public const string Path = "/hangfire";
    public const string CookieScheme = "DashboardSession";
    public const string CookieName = "fusedream_dashboard";

    public static WebApplicationBuilder AddJobDashboard(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<JobDashboardOptions>().BindConfiguration(JobDashboardOptions.Section);
        var development = builder.Environment.IsDevelopment();
        builder.Services.AddAuthentication().AddCookie(CookieScheme, cookie =>
        {
            cookie.Cookie.Name = CookieName;
            cookie.Cookie.Path = Path;
            cookie.Cookie.HttpOnly = true;
            cookie.Cookie.SameSite = SameSiteMode.Strict;
            cookie.Cookie.SecurePolicy = development ? CookieSecurePolicy.SameAsRequest : CookieSecurePolicy.Always;
            cookie.SlidingExpiration = false;
        });
        builder.Services.AddOptions<CookieAuthenticationOptions>(CookieScheme)
            .Configure<IOptions<JobDashboardOptions>>((cookie, dashboard) => cookie.ExpireTimeSpan = dashboard.Value.DashboardSessionLifetime);
        return builder;
    }

    public static WebApplication UseJobDashboard(this WebApplication app)
    {
        var options = app.Services.GetRequiredService<IOptions<JobDashboardOptions>>().Value;
        var dashboard = new DashboardOptions
        {
            AsyncAuthorization = [new AdminSessionFilter()],
            IsReadOnlyFunc = _ => !options.DashboardWritable,
            DisplayStorageConnectionString = false,
            AppPath = null,
        };
        // Hangfire's own middleware with this host's storage, mapped directly: UseHangfireDashboard
        // would require AddHangfire, which configures Hangfire's process-wide GlobalConfiguration.
        // Built on the first dashboard request: the storage connects to the database when created,
        // and the API must start (and answer /health) while the database is down.
        app.Map(Path, dashboardApp => dashboardApp.Use(next =>
        {
            var middleware = new Lazy<AspNetCoreDashboardMiddleware>(
                () => new AspNetCoreDashboardMiddleware(next, app.Services.GenerationJobStorage(), dashboard, DashboardRoutes.Routes),
                LazyThreadSafetyMode.PublicationOnly);
            return context => middleware.Value.Invoke(context);
        }));

        app.MapPost("/v1/dashboard-session", OpenSessionAsync)
            .WithTags("Keys")
            .WithName("OpenDashboardSession")
            .WithSummary("Exchange an admin key for a session cookie that opens the job dashboard at /hangfire")
            .RequireAuthorization(ApiKeyScopes.Admin);
        return app;
    }

    public static async Task<NoContent> OpenSessionAsync(HttpContext context, ClaimsPrincipal user)
    {
        var identity = new ClaimsIdentity([new Claim(ClaimTypes.NameIdentifier, user.KeyId())], CookieScheme);
        await context.SignInAsync(CookieScheme, new ClaimsPrincipal(identity));
        return TypedResults.NoContent();
    }

    /// <summary>A dashboard request passes with a session whose key is still an admin key, unrevoked and unexpired.</summary>
    private sealed class AdminSessionFilter : IDashboardAsyncAuthorizationFilter
    {
        public async Task<bool> AuthorizeAsync(DashboardContext context)
        {
            var http = context.GetHttpContext();
            var session = await http.AuthenticateAsync(CookieScheme);
            if (session.Principal?.FindFirstValue(ClaimTypes.NameIdentifier) is not { } keyId) return false;
            var key = await http.RequestServices.GetRequiredService<ApiKeyStore>().GetAsync(keyId, http.RequestAborted);
            return key is { RevokedAt: null, IsAdmin: true } && (key.ExpiresAt is null || key.ExpiresAt > DateTimeOffset.UtcNow);
        }
    }
}
