using System.Globalization;
using System.Text.Json.Nodes;
using FuseDream.Api.Apis;
using FuseDream.Generation;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace FuseDream.Api.Hosting;

/// <summary>
/// Puts the allowed range of every numeric option (the <see cref="System.ComponentModel.DataAnnotations.RangeAttribute"/>s
/// on <see cref="GenerationOptions"/>, which validation reads too) and a working example into the
/// OpenAPI schema, so Swagger UI shows them and "Try it out" starts from a request that runs.
/// </summary>
public sealed class SwaggerSchemaRanges : ISchemaFilter
{
    /// <summary>The schema name clients have known the <c>options</c> object by.</summary>
    public const string OverridesSchemaId = "GenerationOptionsRequest";

    public void Apply(IOpenApiSchema schema, SchemaFilterContext context)
    {
        if (schema is not OpenApiSchema concrete || concrete.Properties is null) return;
        if (context.Type == typeof(GenerationOverrides) || context.Type == typeof(CreateGenerationRequest))
        {
            foreach (var (name, property) in concrete.Properties)
            {
                if (property is OpenApiSchema p && GenerationOptions.RangeOf(char.ToUpperInvariant(name[0]) + name[1..]) is { } range)
                {
                    p.Minimum = range.Min.ToString(CultureInfo.InvariantCulture);
                    p.Maximum = range.Max.ToString(CultureInfo.InvariantCulture);
                    p.Description = $"{p.Description} Allowed: {range.Min.ToString(CultureInfo.InvariantCulture)}–{range.Max.ToString(CultureInfo.InvariantCulture)}.".Trim();
                }
            }
        }
        if (context.Type == typeof(FuseDream.Composition.CompositionOverrides))
        {
            foreach (var (name, property) in concrete.Properties)
            {
                if (property is OpenApiSchema p && FuseDream.Composition.CompositionOptions.RangeOf(char.ToUpperInvariant(name[0]) + name[1..]) is { } range)
                {
                    p.Minimum = range.Min.ToString(CultureInfo.InvariantCulture);
                    p.Maximum = range.Max.ToString(CultureInfo.InvariantCulture);
                    p.Description = $"{p.Description} Allowed: {range.Min.ToString(CultureInfo.InvariantCulture)}–{range.Max.ToString(CultureInfo.InvariantCulture)}.".Trim();
                }
            }
            concrete.Example = new JsonObject { ["fusionSteps"] = 8, ["innerSteps"] = 1, ["warmupSteps"] = 5 };
        }
        if (context.Type == typeof(GenerationOverrides))
        {
            concrete.Example = new JsonObject { ["steps"] = 100, ["augmentations"] = 16, ["topK"] = 5 };
            if (concrete.Properties.TryGetValue("init", out var init) && init is OpenApiSchema i)
                i.Enum = [.. LatentInit.All.Select(x => (JsonNode)JsonValue.Create(x))];
        }
        else if (context.Type == typeof(CreateGenerationRequest))
        {
            if (concrete.Properties.TryGetValue("seed", out var seed) && seed is OpenApiSchema s)
                s.Minimum = "0";
            if (concrete.Properties.TryGetValue("model", out var model) && model is OpenApiSchema m)
                m.Enum = [.. GenerationOptions.Models.All.Select(x => (JsonNode)JsonValue.Create(x))];
            if (concrete.Properties.TryGetValue("preset", out var preset) && preset is OpenApiSchema pr)
                pr.Enum = [.. GenerationPresets.All.Keys.Select(x => (JsonNode)JsonValue.Create(x))];
            concrete.Required = new HashSet<string> { "prompt", "model" };
            concrete.Example = new JsonObject
            {
                ["prompt"] = "A photo of a blue dog.",
                ["model"] = GenerationOptions.Models.BigGan256,
                ["seed"] = 42,
                ["preset"] = "fast",
                // Small enough to finish in about a minute on a CPU with the fixture models.
                ["options"] = new JsonObject
                {
                    ["basisIterations"] = 2, ["samplesPerIteration"] = 5, ["topK"] = 3,
                    ["steps"] = 6, ["augmentations"] = 2, ["scoreEvery"] = 3, ["finalAugmentations"] = 4,
                },
                ["previewEvery"] = 3,
            };
            // A composed generation: the scene's prompt, then its components, background first.
            if (concrete.Properties.TryGetValue("components", out var components) && components is OpenApiSchema c)
                c.Example = ComposedExample["components"]!.DeepClone();
        }
    }

    /// <summary>A composed generation that runs: the <c>fast</c> composition preset, two components.</summary>
    public static readonly JsonObject ComposedExample = new()
    {
        ["prompt"] = "a dog on the moon",
        ["model"] = GenerationOptions.Models.BigGan256,
        ["seed"] = 7,
        ["preset"] = "fast",
        ["components"] = new JsonArray
        {
            new JsonObject { ["prompt"] = "the surface of the moon" },
            new JsonObject { ["prompt"] = "a dog", ["box"] = new JsonArray(0.3, 0.35, 0.75, 0.95), ["feather"] = 0.05 },
        },
        ["composition"] = new JsonObject { ["fusionSteps"] = 8, ["innerSteps"] = 1 },
    };
}
