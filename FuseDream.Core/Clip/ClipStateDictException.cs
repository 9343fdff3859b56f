using FuseDream.Checkpoints;

namespace FuseDream.Clip;

/// <summary>
/// A checkpoint that does not fit the CLIP architecture: the message names every missing,
/// unexpected or wrongly shaped key (the lists are also available for callers).
/// </summary>
public sealed class ClipStateDictException(string message, IReadOnlyList<string> missing, IReadOnlyList<string> unexpected, IReadOnlyList<string> mismatched)
    : StateDictMismatchException(message, missing, unexpected, mismatched);
