using TorchSharp;
using static TorchSharp.torch;

namespace FuseDream.Generation;

/// <summary>
/// Reads a one-element tensor back to the host without leaving a tensor behind. TorchSharp's
/// <c>item&lt;T&gt;()</c> on a device tensor copies it to the CPU through a temporary that it never
/// disposes, so each call outside a dispose scope leaks one tensor (on CUDA this showed as one live
/// tensor more per optimisation step); here the copy, and whatever the caller's expression made,
/// live in a scope of their own. Every host read of a single value in this project goes through
/// <see cref="Scalar{T}"/>.
/// </summary>
public static class HostRead
{
    /// <summary>The value of a one-element <paramref name="tensor"/> (any device), read as <typeparamref name="T"/> (the tensor's own element type).</summary>
    public static T Scalar<T>(Tensor tensor) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(tensor);
        using var scope = NewDisposeScope();
        var host = tensor.device_type == DeviceType.CPU ? tensor : tensor.cpu();
        return host.item<T>();
    }

    /// <summary>The value of <paramref name="tensor"/>'s single element as a double, whatever its floating-point type (float32, bf16, float64).</summary>
    public static double Double(Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        using var scope = NewDisposeScope();
        return Scalar<double>(tensor.to(ScalarType.Float64));
    }

    /// <summary>The value of an integer tensor's single element as a long.</summary>
    public static long Long(Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        using var scope = NewDisposeScope();
        return Scalar<long>(tensor.to(ScalarType.Int64));
    }
}
