using TorchSharp;
using static TorchSharp.torch;

namespace FuseDream.Clip;

/// <summary>
/// The normalisation of openai/CLIP's <c>_transform</c> (<c>Normalize(mean, std)</c>), applied to
/// images already resized to the model's resolution with values in [0, 1]. Differentiable.
/// </summary>
public static class ClipPreprocessing
{
    public static readonly float[] Mean = [0.48145466f, 0.4578275f, 0.40821073f];
    public static readonly float[] Std = [0.26862954f, 0.26130258f, 0.27577711f];

    /// <summary>(image − mean) / std per channel; <paramref name="imageIn01"/> is [B, 3, H, W].</summary>
    public static Tensor Normalize(Tensor imageIn01)
    {
        ArgumentNullException.ThrowIfNull(imageIn01);
        if (imageIn01.dim() != 4 || imageIn01.shape[1] != 3)
            throw new ArgumentException(
                $"Expected an image batch [B, 3, H, W]; got [{string.Join(", ", imageIn01.shape)}].", nameof(imageIn01));
        var (mean, std) = ConstantsFor(imageIn01.device, imageIn01.dtype);
        using var scope = NewDisposeScope();
        return ((imageIn01 - mean) / std).MoveToOuterDisposeScope();
    }

    // Mean and std [1, 3, 1, 1] made once per device and type, not copied to the device per call.
    private static readonly Dictionary<(string Device, ScalarType Type), (Tensor Mean, Tensor Std)> Constants = [];
    private static readonly Lock ConstantsLock = new();
    [ThreadStatic] private static int _cachedOnThisThread;

    /// <summary>
    /// Tensors this thread added to the constants (two per device and type): tests that count
    /// this thread's live tensors leave them out, since they are kept for the process's life.
    /// </summary>
    internal static int CachedTensorsMadeOnThisThread => _cachedOnThisThread;

    private static (Tensor Mean, Tensor Std) ConstantsFor(Device device, ScalarType type)
    {
        var key = (device.ToString(), type);
        lock (ConstantsLock)
        {
            if (Constants.TryGetValue(key, out var known)) return known;
            using var scope = NewDisposeScope();
            var m = tensor(Mean, dtype: type, device: device).view(1, 3, 1, 1);
            var s = tensor(Std, dtype: type, device: device).view(1, 3, 1, 1);
            var made = (m.DetachFromDisposeScope(), s.DetachFromDisposeScope());
            Constants[key] = made;
            _cachedOnThisThread += 2;
            return made;
        }
    }
}
