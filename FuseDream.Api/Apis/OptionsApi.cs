using System.Text.Json;
using FuseDream.Generation;
using Microsoft.AspNetCore.Http.HttpResults;

namespace FuseDream.Api.Apis;

/// <summary>
/// <c>/v1/options</c>: what a request may ask for — the models, the presets with every value
/// they set, and the allowed range of each numeric option, read from the same
/// <see cref="System.ComponentModel.DataAnnotations.RangeAttribute"/>s that validation uses, so
/// a client (the web page) shows the limits without repeating them.
/// </summary>
public static class OptionsApi
{
    public static IEndpointRouteBuilder MapOptionsApi(this IEndpointRouteBuilder app)
    {
        app.MapGroup("/v1/options").WithTags("Models").RequireAuthorization(FuseDream.Access.ApiKeyScopes.Read)
            .MapGet("/", Get)
            .WithName("GetGenerationOptions")
            .WithSummary("The models, the presets and the allowed range of every numeric option of a request");
        return app;
    }

    public static Ok<OptionsResponse> Get()
    {
        var ranges = typeof(GenerationOptions).GetProperties()
            .Select(p => (Name: JsonNamingPolicy.CamelCase.ConvertName(p.Name), Range: GenerationOptions.RangeOf(p.Name), p.PropertyType))
            .Where(x => x.Range is not null)
            .ToDictionary(x => x.Name, x => new OptionRange(x.Range!.Value.Min, x.Range.Value.Max, x.PropertyType == typeof(int) ? "integer" : "number"));
        return TypedResults.Ok(new OptionsResponse(
            GenerationOptions.Models.All,
            "paper",
            GenerationPresets.All.ToDictionary(p => p.Key, p => p.Value),
            ranges));
    }
}

/// <summary>What a generation request may contain: models, presets (with their settings) and each numeric option's range.</summary>
public sealed record OptionsResponse(
    IReadOnlyList<string> Models,
    string DefaultPreset,
    IReadOnlyDictionary<string, GenerationOptions> Presets,
    IReadOnlyDictionary<string, OptionRange> Ranges);

/// <summary>The inclusive range of a numeric option, and whether it takes integers.</summary>
public sealed record OptionRange(double Min, double Max, string Type);
