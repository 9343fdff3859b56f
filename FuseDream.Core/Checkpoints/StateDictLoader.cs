using TorchSharp;
using static TorchSharp.torch;

namespace FuseDream.Checkpoints;

/// <summary>
/// Copies named tensors into a module the strict way (PyTorch's <c>load_state_dict(strict=True)</c>):
/// every key of the module must be given, with its shape and a floating-point type, and nothing
/// else may be; all problems are collected before anything is copied, so a bad file leaves the
/// module untouched. Values are converted to the module's dtype and device as they are copied.
/// </summary>
internal static class StateDictLoader
{
    /// <summary>
    /// Checks <paramref name="tensors"/> against <paramref name="module"/>'s state dict and copies
    /// them in. Keys ending in one of <paramref name="optionalSuffixes"/> may be absent (the module
    /// keeps its value). On any mismatch throws what <paramref name="describe"/> makes of it, by
    /// default a <see cref="StateDictMismatchException"/>. The caller keeps ownership of the tensors.
    /// </summary>
    public static void LoadStrict(nn.Module module, IReadOnlyDictionary<string, Tensor> tensors,
        IReadOnlyCollection<string>? optionalSuffixes = null, Func<StateDictMismatch, Exception>? describe = null)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(tensors);
        var expected = module.state_dict();
        var mismatch = Compare(expected, tensors, optionalSuffixes ?? []);
        if (!mismatch.IsEmpty)
            throw describe?.Invoke(mismatch) ?? new StateDictMismatchException($"the tensors do not fit the {module.GetName()} module: {mismatch}", mismatch);

        using var noGrad = no_grad();
        foreach (var (key, target) in expected)
        {
            if (tensors.TryGetValue(key, out var source))
                target.copy_(source); // converts fp16/fp64 to the module's dtype, and moves to its device
        }
    }

    private static StateDictMismatch Compare(IDictionary<string, Tensor> expected, IReadOnlyDictionary<string, Tensor> given, IReadOnlyCollection<string> optionalSuffixes)
    {
        var missing = expected.Keys
            .Where(k => !given.ContainsKey(k) && !optionalSuffixes.Any(s => k.EndsWith(s, StringComparison.Ordinal)))
            .ToList();
        var unexpected = given.Keys.Where(k => !expected.ContainsKey(k)).Order(StringComparer.Ordinal).ToList();
        var wrongShapes = new List<ShapeMismatch>();
        var wrongTypes = new List<TypeMismatch>();
        foreach (var (key, target) in expected)
        {
            if (!given.TryGetValue(key, out var source)) continue;
            if (!source.shape.SequenceEqual(target.shape))
                wrongShapes.Add(new ShapeMismatch(key, source.shape, target.shape));
            else if (!source.is_floating_point())
                wrongTypes.Add(new TypeMismatch(key, source.dtype));
        }
        return new StateDictMismatch(missing, unexpected, wrongShapes, wrongTypes);
    }
}

/// <summary>
/// What keeps a set of tensors from loading into a module: missing keys (in the module's order),
/// unexpected keys (sorted), wrong shapes and non-floating-point tensors (in the module's order).
/// </summary>
internal sealed record StateDictMismatch(
    IReadOnlyList<string> Missing,
    IReadOnlyList<string> Unexpected,
    IReadOnlyList<ShapeMismatch> WrongShapes,
    IReadOnlyList<TypeMismatch> WrongTypes)
{
    public bool IsEmpty => Missing.Count + Unexpected.Count + WrongShapes.Count + WrongTypes.Count == 0;

    /// <summary>Keys given with the wrong shape or type.</summary>
    public IReadOnlyList<string> MismatchedKeys => [.. WrongShapes.Select(m => m.Key).Concat(WrongTypes.Select(m => m.Key))];

    public override string ToString()
    {
        var parts = new List<string>();
        if (Missing.Count > 0) parts.Add($"missing keys ({Missing.Count}): {string.Join(", ", Missing)}");
        if (Unexpected.Count > 0) parts.Add($"unexpected keys ({Unexpected.Count}): {string.Join(", ", Unexpected)}");
        if (WrongShapes.Count > 0) parts.Add($"wrong shapes ({WrongShapes.Count}): {string.Join(", ", WrongShapes)}");
        if (WrongTypes.Count > 0) parts.Add($"wrong types ({WrongTypes.Count}): {string.Join(", ", WrongTypes)}");
        return string.Join("; ", parts);
    }
}

/// <summary>A tensor given as <see cref="Given"/> where the module holds <see cref="Expected"/>.</summary>
internal sealed record ShapeMismatch(string Key, long[] Given, long[] Expected)
{
    public static string Format(long[] shape) => $"[{string.Join(", ", shape)}]";

    public override string ToString() => $"{Key} is {Format(Given)}, expected {Format(Expected)}";
}

/// <summary>A tensor of a type that is not floating point where the module holds weights.</summary>
internal sealed record TypeMismatch(string Key, ScalarType Given)
{
    public override string ToString() => $"{Key} is {Given}, expected a floating-point tensor";
}

/// <summary>A checkpoint whose tensors do not fit the architecture: which keys are missing, unexpected or mismatched.</summary>
public class StateDictMismatchException : Exception
{
    internal StateDictMismatchException(string message, StateDictMismatch mismatch)
        : this(message, mismatch.Missing, mismatch.Unexpected, mismatch.MismatchedKeys)
    {
    }

    public StateDictMismatchException(string message, IReadOnlyList<string> missing, IReadOnlyList<string> unexpected, IReadOnlyList<string> mismatched)
        : base(message)
    {
        MissingKeys = missing;
        UnexpectedKeys = unexpected;
        MismatchedKeys = mismatched;
    }

    public IReadOnlyList<string> MissingKeys { get; }
    public IReadOnlyList<string> UnexpectedKeys { get; }
    public IReadOnlyList<string> MismatchedKeys { get; }
}
