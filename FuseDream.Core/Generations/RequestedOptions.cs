using System.Globalization;
using FuseDream.Composition;
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

    /// <summary>Prefix of a problem with a composed generation's fusion options: <c>Composition.</c> and a <see cref="CompositionOptions"/> property name.</summary>
    public const string CompositionPrefix = "Composition.";

    /// <summary>A composed generation's fusion options (stage 2); null for a single prompt.</summary>
    public CompositionOptions? Composition { get; init; }

    /// <summary>
    /// As <see cref="Resolve"/> for a composed generation of <paramref name="components"/>
    /// components: the preset is a <see cref="CompositionPresets"/> one (stage 1's options for
    /// every component, and stage 2's), <paramref name="fusion"/> overrides stage 2, and the cost
    /// checked is <see cref="CompositionCost"/>'s. A fusion option's problem is named
    /// <see cref="CompositionPrefix"/> + its property.
    /// </summary>
    public static RequestedOptions ResolveComposed(string presetName, Func<GenerationOptions, GenerationOptions> overlay,
        CompositionOverrides? fusion, int components, GenerationLimits limits)
    {
        ArgumentNullException.ThrowIfNull(overlay);
        ArgumentNullException.ThrowIfNull(limits);
        var problems = new List<(string Field, string Reason)>();
        var canonical = CompositionPresets.All.Keys.FirstOrDefault(k => string.Equals(k, presetName, StringComparison.OrdinalIgnoreCase));
        if (canonical is null)
            problems.Add((PresetField, $"unknown preset '{presetName}'; known presets: {string.Join(", ", CompositionPresets.All.Keys)}"));
        var preset = canonical is null ? CompositionPresets.Paper : CompositionPresets.All[canonical];
        var options = overlay(preset.Components);
        var composition = preset.Fusion.With(fusion);
        var optionErrors = options.Validate();
        var compositionErrors = composition.Validate();
        problems.AddRange(optionErrors.Select(e => (e.Field, e.Reason)));
        problems.AddRange(compositionErrors.Select(e => (CompositionPrefix + e.Field, e.Reason)));
        if (optionErrors.Count == 0 && compositionErrors.Count == 0
            && components is >= CompositionOptions.MinComponents and <= CompositionOptions.MaxComponents)
        {
            var cost = CompositionCost.Of(options, composition, components);
            if (cost > limits.MaxClipEvaluations)
                problems.Add((CostField, string.Format(CultureInfo.InvariantCulture,
                    "costs {0:N0} CLIP image evaluations, over this service's limit of {1:N0} ({2}:{3}). A composed generation costs its components' "
                    + "single-prompt runs plus the fusion (docs/composition.md#cost); lower steps, augmentations, fusionSteps, innerSteps or fusionAugmentations, "
                    + "use fewer components, or start from a cheaper preset (fast, with {4} components: {5:N0})",
                    cost, limits.MaxClipEvaluations, GenerationLimits.Section, nameof(GenerationLimits.MaxClipEvaluations),
                    components, CompositionCost.Of(CompositionPresets.Fast.Components, CompositionPresets.Fast.Fusion, components))));
        }
        return new RequestedOptions(canonical, options, problems) { Composition = composition };
    }

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
