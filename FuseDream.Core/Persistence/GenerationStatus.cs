namespace FuseDream.Persistence;

/// <summary>Life cycle of a generation: queued → running → succeeded | failed | canceled (queued → canceled too).</summary>
public enum GenerationStatus
{
    Queued,
    Running,
    Succeeded,
    Failed,
    Canceled,
}

public static class GenerationStatusNames
{
    /// <summary>The lower-case name used in the database and the API.</summary>
    public static string ToName(this GenerationStatus status) => status switch
    {
        GenerationStatus.Queued => "queued",
        GenerationStatus.Running => "running",
        GenerationStatus.Succeeded => "succeeded",
        GenerationStatus.Failed => "failed",
        GenerationStatus.Canceled => "canceled",
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, null),
    };

    public static IReadOnlyList<string> All { get; } = [.. Enum.GetValues<GenerationStatus>().Select(ToName)];

    public static bool TryParse(string? name, out GenerationStatus status)
    {
        foreach (var value in Enum.GetValues<GenerationStatus>())
        {
            if (string.Equals(value.ToName(), name, StringComparison.OrdinalIgnoreCase))
            {
                status = value;
                return true;
            }
        }
        status = default;
        return false;
    }

    public static GenerationStatus Parse(string name) =>
        TryParse(name, out var status) ? status : throw new ArgumentException($"Unknown generation status '{name}'.", nameof(name));

    public static bool IsFinished(this GenerationStatus status) =>
        status is GenerationStatus.Succeeded or GenerationStatus.Failed or GenerationStatus.Canceled;
}
