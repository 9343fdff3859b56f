namespace FuseDream.Generation;

/// <summary>A request names a CLIP (<see cref="GenerationOptions.Clips"/>) the pipeline has not loaded.</summary>
public sealed class ClipNotLoadedException(string message, string? paramName) : ArgumentException(message, paramName);

/// <summary>One CLIP of an ensemble, by model id (<see cref="Clip.ClipModelIds"/>), and its weight.</summary>
public sealed record ClipWeight(string Model, double Weight)
{
    /// <summary>The most CLIPs one generation may score with (each costs a full image encoding per step).</summary>
    public const int MaxClips = 3;

    /// <summary>The largest weight; weights are relative (divided by their sum) and positive.</summary>
    public const double MaxWeight = 10.0;

    /// <summary>Every problem with <paramref name="clips"/>, as (field, reason): <c>Clips</c>, <c>Clips[i].Model</c>, <c>Clips[i].Weight</c>.</summary>
    public static IReadOnlyList<OptionError> Validate(IReadOnlyList<ClipWeight?> clips)
    {
        ArgumentNullException.ThrowIfNull(clips);
        var errors = new List<OptionError>();
        if (clips.Count is 0 or > MaxClips)
            errors.Add(new("Clips", $"must list 1 to {MaxClips} CLIP models, each {{ model, weight }} (got {clips.Count})"));
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < clips.Count; i++)
        {
            if (clips[i] is not { } clip)
            {
                errors.Add(new($"Clips[{i}]", "must be an object { model, weight }"));
                continue;
            }
            if (string.IsNullOrWhiteSpace(clip.Model))
                errors.Add(new($"Clips[{i}].Model", "is required: a CLIP model id from /v1/models, e.g. clip-vit-b-32"));
            else if (!seen.Add(clip.Model))
                errors.Add(new($"Clips[{i}].Model", $"names '{clip.Model}' twice; give each CLIP once"));
            if (!(clip.Weight > 0 && clip.Weight <= MaxWeight))
                errors.Add(new($"Clips[{i}].Weight", $"must be above 0 and at most {MaxWeight:G} (got {clip.Weight:G})"));
        }
        return errors;
    }
}
