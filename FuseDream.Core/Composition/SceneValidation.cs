using FuseDream.Generation;
using FuseDream.Text;

namespace FuseDream.Composition;

/// <summary>The rules of a scene's components, for every front end: each problem names its field (<c>components[i].box</c>).</summary>
public static class SceneValidation
{
    /// <summary>Every problem with <paramref name="components"/> as (field, reason); empty when valid.</summary>
    public static IReadOnlyList<OptionError> Validate(IReadOnlyList<SceneComponent>? components, IPromptTokenCounter? tokens = null, string field = "components")
    {
        var errors = new List<OptionError>();
        if (components is null || components.Count < CompositionOptions.MinComponents || components.Count > CompositionOptions.MaxComponents)
        {
            errors.Add(new(field, $"a scene has {CompositionOptions.MinComponents} to {CompositionOptions.MaxComponents} components, the first being the background (got {components?.Count ?? 0})"));
            return errors;
        }
        var featherRange = CompositionOptions.RangeOf(nameof(CompositionOptions.Feather))!.Value;
        for (var i = 0; i < components.Count; i++)
        {
            var c = components[i];
            var at = $"{field}[{i}]";
            if (c is null)
            {
                errors.Add(new(at, "missing; give an object with a prompt"));
                continue;
            }
            var promptProblem = tokens is null ? PromptRules.ShapeProblem(c.Prompt) : tokens.Problem(c.Prompt);
            if (promptProblem is not null)
                errors.Add(new($"{at}.prompt", promptProblem));
            if (c.Box?.Problem() is { } problem)
                errors.Add(new($"{at}.box", problem));
            if (c.Feather is { } feather && !(feather >= featherRange.Min && feather <= featherRange.Max))
                errors.Add(new($"{at}.feather", $"must be between {featherRange.Min:G} and {featherRange.Max:G} (got {feather:G})"));
        }
        return errors;
    }
}
