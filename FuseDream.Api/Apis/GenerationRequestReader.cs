using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using FuseDream.Composition;
using FuseDream.Generation;
using FuseDream.Generations;
using FuseDream.Text;
using Microsoft.Extensions.Options;

namespace FuseDream.Api.Apis;

/// <summary>A request that passed validation, with its effective options.</summary>
public sealed record ValidatedGeneration(string Prompt, long? Seed, string Preset, GenerationOptions Options, string RequestHash)
{
    /// <summary>The webhook URL as sent (its host is checked by the caller, which resolves it), or null.</summary>
    public string? Webhook { get; init; }

    public IReadOnlyList<string> WebhookEvents { get; init; } = [];

    /// <summary>A composed generation's components and fusion options, or null.</summary>
    public ComposedScene? Scene { get; init; }
}

/// <summary>
/// Reads and validates <c>POST /v1/generations</c> bodies. The body is parsed here rather
/// than by model binding so that every problem — malformed JSON, a wrong type, an unknown
/// field, an out-of-range value, a prompt too long for CLIP — comes back as a 400 naming the
/// JSON field and the reason; a run costing more than <see cref="GenerationLimits.MaxClipEvaluations"/>
/// is refused under <c>options</c>. Nothing is stored before this says yes. The checks run
/// cheapest first: the prompt's length before anything else, its CLIP token count last and only
/// when every other field is valid (the caller limits the body to <see cref="GenerationsApi.MaxRequestBodyBytes"/>).
/// </summary>
public sealed class GenerationRequestReader(IPromptTokenCounter tokenCounter, IOptions<GenerationLimits> limits)
{
    /// <summary>The preset used when the request names none.</summary>
    public const string DefaultPreset = "paper";

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    /// <summary>Reads and validates the body; <paramref name="unlimitedCost"/> (an admin key) lifts <see cref="GenerationLimits.MaxClipEvaluations"/>.</summary>
    public async Task<(ValidatedGeneration? Generation, Dictionary<string, string[]>? Errors)> ReadAsync(
        HttpRequest request, CancellationToken cancellationToken, bool unlimitedCost = false)
    {
        if (!request.HasJsonContentType())
            return (null, Error("body", "must be JSON: send Content-Type: application/json"));
        CreateGenerationRequest? body;
        try
        {
            body = await JsonSerializer.DeserializeAsync<CreateGenerationRequest>(request.Body, Json, cancellationToken);
        }
        catch (JsonException ex)
        {
            return (null, FromJsonException(ex));
        }
        if (body is null)
            return (null, Error("body", "is required: a JSON object with at least 'prompt' and 'model'"));
        return Validate(body, unlimitedCost);
    }

    public (ValidatedGeneration? Generation, Dictionary<string, string[]>? Errors) Validate(CreateGenerationRequest body, bool unlimitedCost = false)
    {
        var errors = new Dictionary<string, List<string>>();
        void Add(string field, string reason)
        {
            if (!errors.TryGetValue(field, out var list)) errors[field] = list = [];
            list.Add(reason);
        }

        // The prompt's cheap checks first; tokenizing waits until everything else passed (below).
        // Weighted prompts are checked with the options, which carry them.
        ValueList<WeightedPrompt>? weighted = null;
        if (body.Prompts is { } prompts)
        {
            if (body.Prompt is not null)
                Add("prompts", "give either 'prompt' (one text) or 'prompts' (weighted texts), not both");
            for (var i = 0; i < prompts.Count; i++)
                if (prompts[i] is null) Add($"prompts[{i}]", "must be an object { \"text\": …, \"weight\": … }");
            weighted = new([.. prompts.Select(p => new WeightedPrompt(p?.Text ?? "", p?.Weight ?? 1.0))]);
        }
        else if (PromptRules.ShapeProblem(body.Prompt) is { } promptShape)
            Add("prompt", promptShape);
        ValueList<ClipWeight>? clips = null;
        if (body.Clips is { } clipInputs)
        {
            for (var i = 0; i < clipInputs.Count; i++)
                if (clipInputs[i] is null) Add($"clips[{i}]", "must be an object { \"model\": …, \"weight\": … }");
            clips = new([.. clipInputs.Select(c => new ClipWeight(c?.Model ?? "", c?.Weight ?? 1.0))]);
        }

        if (string.IsNullOrWhiteSpace(body.Model))
            Add("model", $"is required: one of {string.Join(", ", GenerationOptions.Models.All)}");

        if (body.Seed is < 0)
            Add("seed", $"must be between 0 and {long.MaxValue} (got {body.Seed})");

        // A composed scene: its components' shapes here, their prompts' tokens last (below).
        List<SceneComponent>? scene = null;
        if (body.Components is { } componentInputs)
        {
            if (body.Prompts is not null)
                Add("components", "cannot be combined with 'prompts' (weighted prompts): a composed scene has one scene prompt, 'prompt', and a prompt per component");
            if (body.Clips is not null)
                Add("clips", "cannot be combined with 'components': a composed generation scores with the worker's default CLIP");
            scene = [];
            for (var i = 0; i < componentInputs.Count; i++)
            {
                var input = componentInputs[i];
                SceneBox? box = null;
                if (input?.Box is { } b)
                {
                    if (b.Count == 4) box = new SceneBox(b[0], b[1], b[2], b[3]);
                    else Add($"components[{i}].box", $"must be [x0, y0, x1, y1]: four numbers in [0, 1] (got {b.Count})");
                }
                scene.Add(input is null ? null! : new SceneComponent(input.Prompt ?? "", box, input.Feather));
            }
            foreach (var (field, reason) in SceneValidation.Validate(scene))
                if (!errors.ContainsKey(field)) Add(field, reason);
        }
        else if (body.Composition is not null)
            Add("composition", "needs 'components': the fusion's settings apply to a composed generation only");

        var limit = unlimitedCost ? new GenerationLimits { MaxClipEvaluations = long.MaxValue } : limits.Value;
        GenerationOptions Overlay(GenerationOptions preset) => preset.With(body.Options) with
        {
            Model = body.Model ?? "",
            PreviewEvery = body.PreviewEvery ?? 0,
            Prompts = weighted,
            Clips = clips,
        };
        var requested = scene is null
            ? RequestedOptions.Resolve(body.Preset ?? DefaultPreset, Overlay, limit)
            : RequestedOptions.ResolveComposed(body.Preset ?? DefaultPreset, Overlay, body.Composition, scene.Count, limit);
        foreach (var (field, reason) in requested.Problems)
        {
            if (field == nameof(GenerationOptions.Model) && string.IsNullOrWhiteSpace(body.Model)) continue;
            if ((field.StartsWith(nameof(GenerationOptions.Prompts) + "[", StringComparison.Ordinal) || field.StartsWith(nameof(GenerationOptions.Clips) + "[", StringComparison.Ordinal))
                && errors.ContainsKey(FieldOf(field)[..FieldOf(field).IndexOf(']')] + "]")) continue;
            Add(field switch
            {
                RequestedOptions.PresetField => "preset",
                RequestedOptions.CostField => "options",
                _ when field.StartsWith(RequestedOptions.CompositionPrefix, StringComparison.Ordinal) =>
                    "composition." + JsonNamingPolicy.CamelCase.ConvertName(field[RequestedOptions.CompositionPrefix.Length..]),
                _ => FieldOf(field),
            }, reason);
        }

        if (body.WebhookEvents is { } events)
        {
            if (body.Webhook is null)
                Add("webhookEvents", "needs 'webhook': the URL to send the events to");
            else if (events.Count == 0 || events.Any(e => !FuseDream.Webhooks.WebhookEvents.All.Contains(e)))
                Add("webhookEvents", $"must list one or more of {string.Join(", ", FuseDream.Webhooks.WebhookEvents.All)}");
        }

        // Tokenizing is the one costly check: only a request that is otherwise valid pays for it.
        if (errors.Count == 0 && weighted is not null)
        {
            for (var i = 0; i < weighted.Count; i++)
                if (tokenCounter.TokenProblem(weighted[i].Text) is { } problem) Add($"prompts[{i}].text", problem);
        }
        else if (errors.Count == 0 && tokenCounter.TokenProblem(body.Prompt!) is { } tokenProblem)
            Add("prompt", tokenProblem);
        if (errors.Count == 0 && scene is not null)
        {
            for (var i = 0; i < scene.Count; i++)
                if (tokenCounter.TokenProblem(scene[i].Prompt) is { } problem) Add($"components[{i}].prompt", problem);
        }

        if (errors.Count > 0)
            return (null, errors.ToDictionary(e => e.Key, e => e.Value.ToArray()));
        var hash = GenerationSubmission.HashOf(body, Json);
        return (new ValidatedGeneration(weighted is null ? body.Prompt! : WeightedPrompts.Format(weighted), body.Seed, requested.Preset!, requested.Options, hash)
        {
            Webhook = body.Webhook,
            WebhookEvents = body.Webhook is null ? [] : [.. (body.WebhookEvents ?? FuseDream.Webhooks.WebhookEvents.Default).Distinct()],
            Scene = scene is null ? null : new ComposedScene(scene, requested.Composition!),
        }, null);
    }

    /// <summary>The JSON field of a <see cref="GenerationOptions"/> property.</summary>
    public static string FieldOf(string optionsProperty) => optionsProperty switch
    {
        _ when optionsProperty.StartsWith(nameof(GenerationOptions.Prompts), StringComparison.Ordinal)
            || optionsProperty.StartsWith(nameof(GenerationOptions.Clips), StringComparison.Ordinal) =>
            string.Join('.', optionsProperty.Split('.').Select(JsonNamingPolicy.CamelCase.ConvertName)),
        nameof(GenerationOptions.Model) => "model",
        nameof(GenerationOptions.PreviewEvery) => "previewEvery",
        _ => "options." + JsonNamingPolicy.CamelCase.ConvertName(optionsProperty),
    };

    private static Dictionary<string, string[]> Error(string field, string reason) => new() { [field] = [reason] };

    private static Dictionary<string, string[]> FromJsonException(JsonException ex)
    {
        var path = ex.Path is { Length: > 1 } p && p.StartsWith("$.", StringComparison.Ordinal) ? p[2..] : null;
        const string unmapped = "could not be mapped to any .NET member";
        if (ex.Message.Contains(unmapped, StringComparison.Ordinal))
        {
            var start = ex.Message.IndexOf('\'') + 1;
            var name = start > 0 ? ex.Message[start..ex.Message.IndexOf('\'', start)] : "?";
            var parent = path is null ? null : path.Contains('.') ? path[..path.LastIndexOf('.')] : (path == name ? null : path);
            var field = parent is null ? name : $"{parent}.{name}";
            var known = parent == "options" ? KnownFields(typeof(GenerationOverrides))
                : parent == "composition" ? KnownFields(typeof(CompositionOverrides))
                : parent is not null && parent.StartsWith("components[", StringComparison.Ordinal) ? KnownFields(typeof(ComponentInput))
                : parent is not null && parent.StartsWith("prompts[", StringComparison.Ordinal) ? KnownFields(typeof(PromptInput))
                : parent is not null && parent.StartsWith("clips[", StringComparison.Ordinal) ? KnownFields(typeof(ClipInput))
                : KnownFields(typeof(CreateGenerationRequest));
            return Error(field, $"is not a known field; known fields here: {known}");
        }
        if (path is null)
            return Error("body", $"is not valid JSON: {FirstSentence(ex.Message)}");
        return Error(path, $"must be {Expected(path)}");
    }

    private static string KnownFields(Type type) =>
        string.Join(", ", type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Select(p => JsonNamingPolicy.CamelCase.ConvertName(p.Name)));

    private static string Expected(string path)
    {
        var type = typeof(CreateGenerationRequest);
        PropertyInfo? property = null;
        foreach (var segment in path.Split('.'))
        {
            // prompts[0].weight: the list's element type, then its property.
            var indexed = segment.IndexOf('[');
            var part = indexed < 0 ? segment : segment[..indexed];
            property = type.GetProperties().FirstOrDefault(p => string.Equals(p.Name, part, StringComparison.OrdinalIgnoreCase));
            if (property is null) return "valid JSON of the documented type";
            type = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            if (indexed >= 0 && type.IsGenericType && type.GetGenericArguments() is [var element])
                type = Nullable.GetUnderlyingType(element) ?? element;
            else if (indexed < 0 && type != typeof(string) && type.IsGenericType && typeof(System.Collections.IEnumerable).IsAssignableFrom(type))
                return "a JSON array";
        }
        return type switch
        {
            _ when type == typeof(string) => "a string",
            _ when type == typeof(int) => $"an integer between {int.MinValue} and {int.MaxValue}",
            _ when type == typeof(long) => "an integer",
            _ when type == typeof(double) => "a number",
            _ when type == typeof(bool) => "true or false",
            _ => "a JSON object",
        };
    }

    private static string FirstSentence(string message) =>
        message.Split(" Path:", 2)[0].Split(" LineNumber:", 2)[0].TrimEnd('.', ' ');
}
