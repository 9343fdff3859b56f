namespace FuseDream.Api.Hosting;

/// <summary>The API's own switches (section <c>Api</c>).</summary>
public sealed class ApiOptions
{
    public const string Section = "Api";

    /// <summary>
    /// Serve Swagger UI (<c>/swagger</c>) and the OpenAPI document
    /// (<c>/swagger/v1/swagger.json</c>). Unset: on in the Development environment, off in
    /// every other, so a deployment does not publish its API description unless asked to.
    /// </summary>
    public bool? Swagger { get; set; }

    /// <summary>Whether Swagger is served in <paramref name="environment"/>.</summary>
    public bool SwaggerEnabled(IHostEnvironment environment) => Swagger ?? environment.IsDevelopment();
}
