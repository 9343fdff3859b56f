using TorchSharp;
using static TorchSharp.torch;

namespace FuseDream.Generation;

/// <summary>
/// Moves a step's small CPU tensors (its random draws) to the device in one copy instead of one
/// per tensor: packed into one float64 buffer (exact for float32 values and for integers below
/// 2^53), pinned and copied without blocking the host, then split and cast back on the device.
/// On the CPU nothing is copied: the results are aliases of the inputs.
/// </summary>
internal static class DeviceTransfer
{
    /// <summary>The tensors on <paramref name="device"/>, same shapes, types and values; the caller owns the results.</summary>
    public static Tensor[] MoveTogether(IReadOnlyList<Tensor> tensors, Device device)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        ArgumentNullException.ThrowIfNull(device);
        if (device.type == DeviceType.CPU || tensors.Count == 0) return [.. tensors.Select(t => t.alias())];
        using var scope = NewDisposeScope();
        var packed = cat(tensors.Select(t => t.reshape(-1).to(ScalarType.Float64)).ToList()); // [Σ numel], on the CPU
        if (device.type == DeviceType.CUDA) packed = packed.pin_memory();
        var moved = packed.to(device, non_blocking: true);
        var results = new Tensor[tensors.Count];
        long offset = 0;
        for (var i = 0; i < tensors.Count; i++)
        {
            var numel = tensors[i].numel();
            results[i] = moved.narrow(0, offset, numel).view(tensors[i].shape).to(tensors[i].dtype).MoveToOuterDisposeScope();
            offset += numel;
        }
        return results;
    }
}
