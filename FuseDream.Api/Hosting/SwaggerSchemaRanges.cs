using System.Globalization;
using System.Text.Json.Nodes;
using FuseDream.Api.Apis;
using FuseDream.Generation;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace FuseDream.Api.Hosting;

/// <summary>
/// Puts the allowed range of every numeric field (from <see cref="GenerationOptions.Limits"/>,
/// the same table validation uses) and a working example into the OpenAPI schema, so Swagger
/// UI shows them and "Try it out" starts from a request that runs.
/// </summary>
public sealed class SwaggerSchemaRanges : ISchemaFilter
{
    private static readonly Dictionary<string, (double Min, double Max)> OptionRanges = new(StringComparer.OrdinalIgnoreCase)
    {
        ["basisIterations"] = GenerationOptions.Limits.BasisIterations,
        ["samplesPerIteration"] = GenerationOptions.Limits.SamplesPerIteration,
        ["topK"] = GenerationOptions.Limits.TopK,
        ["steps"] = GenerationOptions.Limits.Steps,
        ["augmentations"] = GenerationOptions.Limits.Augmentations,
        ["learningRate"] = GenerationOptions.Limits.LearningRate,
        ["scoreEvery"] = GenerationOptions.Limits.ScoreEvery,
        ["finalAugmentations"] = GenerationOptions.Limits.FinalAugmentations,
    };

    public void Apply(IOpenApiSchema schema, SchemaFilterContext context)
    {
        if (schema is not OpenApiSchema concrete || concrete.Properties is null) return;
        if (context.Type == typeof(GenerationOptionsRequest))
        {
            foreach (var (name, property) in concrete.Properties)
            {
                if (property is OpenApiSchema p && OptionRanges.TryGetValue(name, out var range))
                {
                    p.Minimum = range.Min.ToString(CultureInfo.InvariantCulture);
                    p.Maximum = range.Max.ToString(CultureInfo.InvariantCulture);
                    p.Description = $"{p.Description} Allowed: {range.Min.ToString(CultureInfo.InvariantCulture)}–{range.Max.ToString(CultureInfo.InvariantCulture)}.".Trim();
                }
            }
            concrete.Example = new JsonObject { ["steps"] = 100, ["augmentations"] = 16, ["topK"] = 5 };
        }
        else if (context.Type == typeof(CreateGenerationRequest))
        {
            if (concrete.Properties.TryGetValue("previewEvery", out var preview) && preview is OpenApiSchema pe)
            {
                pe.Minimum = GenerationOptions.Limits.PreviewEvery.Min.ToString(CultureInfo.InvariantCulture);
                pe.Maximum = GenerationOptions.Limits.PreviewEvery.Max.ToString(CultureInfo.InvariantCulture);
            }
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
        }
    }
}
