using FuseDream.Generation;
using FuseDream.Logging;
using Microsoft.Extensions.Options;
using Serilog;

namespace FuseDream.Api.Hosting;

/// <summary>
/// What every deployment of the API has: logging, problem details, security headers, OpenAPI
/// (Swagger only where <see cref="ApiOptions.Swagger"/> allows), health. The
/// database the health check reads is registered once, with the generation services.
/// </summary>
public static class ServiceDefaults
{
    /// <summary>The OpenAPI security scheme of API keys.</summary>
    public const string BearerScheme = "Bearer";

    /// <summary>Swagger UI's introduction, with how to authorise.</summary>
    public const string SwaggerDescription =
        "Text-to-image with CLIP-guided BigGAN latent optimisation (arXiv 2112.01573).\n\n" +
        "**Authorise first**: every endpoint except /health needs an API key. Press *Authorize* and paste the key " +
        "(`fd_<id>_<secret>`, sent as `Authorization: Bearer <key>`). `scripts/run.sh` prints a development admin key; " +
        "otherwise an administrator creates one with `FuseDream.Worker keys create --name <who> --scope generate --scope read` " +
        "or `POST /v1/keys`. Each key sees only its own generations, and is limited in requests per minute and generations in flight " +
        "(see docs/security.md).";

    public static WebApplicationBuilder AddServiceDefaults(this WebApplicationBuilder builder)
    {
        var json = LoggingSetup.UseJson();
        builder.Services.AddSerilog(lc => LoggingSetup.Configure(lc, json));

        builder.Services.AddOptions<ApiOptions>().BindConfiguration(ApiOptions.Section).ValidateOnStart();
        builder.Services.AddProblemDetails();
        // After AddProblemDetails: used only when the default writer declines the Accept header.
        builder.Services.AddSingleton<IProblemDetailsWriter, ProblemJsonFallbackWriter>();
        builder.Services.AddEndpointsApiExplorer();
        builder.Services.AddSwaggerGen(o =>
        {
            o.SwaggerDoc("v1", new() { Title = "FuseDream", Version = "v1", Description = SwaggerDescription });
            // Swagger UI's Authorize button: paste the key (fd_…); it is sent as a Bearer token.
            o.AddSecurityDefinition(BearerScheme, new Microsoft.OpenApi.OpenApiSecurityScheme
            {
                Type = Microsoft.OpenApi.SecuritySchemeType.Http,
                Scheme = "bearer",
                BearerFormat = "fd_<id>_<secret>",
                Description = "An API key of this service. Scopes: generate (submit, cancel), read (read generations and models), admin (keys, everything).",
            });
            o.AddSecurityRequirement(document => new Microsoft.OpenApi.OpenApiSecurityRequirement
            {
                [new Microsoft.OpenApi.OpenApiSecuritySchemeReference(BearerScheme, document)] = [],
            });
            o.SchemaFilter<SwaggerSchemaRanges>();
            var schemaId = o.SchemaGeneratorOptions.SchemaIdSelector;
            o.CustomSchemaIds(t => t == typeof(GenerationOverrides) ? SwaggerSchemaRanges.OverridesSchemaId : schemaId(t));
            foreach (var assembly in new[] { "FuseDream.Api.xml", "FuseDream.Core.xml" })
            {
                var xml = Path.Combine(AppContext.BaseDirectory, assembly);
                if (File.Exists(xml)) o.IncludeXmlComments(xml);
            }
        });

        builder.Services.AddHealthChecks()
            .AddCheck<DatabaseHealthCheck>("database", tags: ["ready"]);
        return builder;
    }

    public static WebApplication UseServiceDefaults(this WebApplication app)
    {
        app.UseSecurityHeaders();
        // Only on HTTPS requests (and never for localhost): behind a proxy that ends TLS, the
        // proxy sets it.
        if (!app.Environment.IsDevelopment())
            app.UseHsts();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        // The host's own logger rather than the static Log.Logger (several hosts share a test process).
        app.UseSerilogRequestLogging(o => o.Logger = app.Services.GetService<Serilog.ILogger>());
        if (app.Services.GetRequiredService<IOptions<ApiOptions>>().Value.SwaggerEnabled(app.Environment))
        {
            app.UseSwagger();
            app.UseSwaggerUI(o =>
            {
                o.SwaggerEndpoint("/swagger/v1/swagger.json", "FuseDream v1");
                o.DocumentTitle = "FuseDream API";
            });
        }
        app.MapMetricsEndpoint();
        return app;
    }
}
