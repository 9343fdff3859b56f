using FuseDream.Generation;

namespace FuseDream.Generations;

/// <summary>
/// The options a request asks for: its preset (by name, in any case) overlaid by its own
/// settings, with every problem found — an unknown preset, an option out of its range, a run
/// over the cost limit. Both front ends (the API's reader, the command line's <c>submit</c>)
/// resolve options here and only name the fields their own way.
/// </summary>
public sealed record RequestedOptions(string? Preset, GenerationOptions Options, IReadOnlyList<(string Field, string Reason)> Problems)
{
    /// <summary>Field of an unknown preset.</summary>
    public const string PresetField = "preset";

    /// <summary>Field of a run over <see cref="GenerationLimits.MaxClipEvaluations"/>; every other field is a <see cref="GenerationOptions"/> property name.</summary>
    public const string CostField = "cost";

    /// <summary>
    /// Resolves <paramref name="presetName"/> and applies <paramref name="overlay"/> to it. An
    /// unknown preset is a problem, and the options are then checked over <c>paper</c> so every
    /// other problem is still reported. The cost is checked once every option is in its range.
    /// </summary>
    public static RequestedOptions Resolve(string presetName, Func<GenerationOptions, GenerationOptions> overlay, GenerationLimits limits)
    {
        ArgumentNullException.ThrowIfNull(overlay);
        ArgumentNullException.ThrowIfNull(limits);
        var problems = new List<(string Field, string Reason)>();
        var canonical = GenerationPresets.All.Keys.FirstOrDefault(k => string.Equals(k, presetName, StringComparison.OrdinalIgnoreCase));
        if (canonical is null)
            problems.Add((PresetField, $"unknown preset '{presetName}'; known presets: {string.Join(", ", GenerationPresets.All.Keys)}"));
        var options = overlay(canonical is null ? GenerationPresets.Paper : GenerationPresets.All[canonical]);
        var optionErrors = options.Validate();
        problems.AddRange(optionErrors.Select(e => (e.Field, e.Reason)));
        // The whole run's cost, once each option is in its range: many options near their
        // maxima together would occupy a GPU for days.
        if (optionErrors.Count == 0 && GenerationCost.Problem(options, limits) is { } costProblem)
            problems.Add((CostField, costProblem));
        return new RequestedOptions(canonical, options, problems);
    }
}
