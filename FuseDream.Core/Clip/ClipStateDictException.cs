namespace FuseDream.Clip;

/// <summary>
/// A checkpoint that does not fit the CLIP architecture: the message names every missing,
/// unexpected or wrongly shaped key (the lists are also available for callers).
/// </summary>
public sealed class ClipStateDictException : Exception
{
    public IReadOnlyList<string> MissingKeys { get; }
    public IReadOnlyList<string> UnexpectedKeys { get; }
    public IReadOnlyList<string> MismatchedKeys { get; }

    public ClipStateDictException(string message, IReadOnlyList<string> missing, IReadOnlyList<string> unexpected, IReadOnlyList<string> mismatched)
        : base(message)
    {
        MissingKeys = missing;
        UnexpectedKeys = unexpected;
        MismatchedKeys = mismatched;
    }
}
