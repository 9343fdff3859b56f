using TorchSharp;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace FuseDream.BigGan;

/// <summary>
/// Mirrors <c>layers.ccbn</c> with <c>norm_style='bn'</c> in eval mode: batch norm with the
/// stored statistics and no affine part, then a per-sample gain <c>1 + gain(y)</c> and bias
/// <c>bias(y)</c> from bias-free spectral-norm linears of the conditioning vector [y, z chunk].
/// <para>Deliberate difference: (x − mean)/√(var + eps)·(1 + gain) + bias is applied as one
/// per-sample, per-channel affine x·a + b, with a = (1 + gain)/√(var + eps) and
/// b = bias − mean·a computed once per call on [B, C] (as eval batch norm itself folds its
/// statistics): one pass over the map instead of three, the same numbers up to float rounding.
/// a and b depend on the conditioning, so gradients still flow to y and z.</para>
/// </summary>
internal sealed class ConditionalBatchNorm : nn.Module<Tensor, Tensor, Tensor>
{
    [ComponentName(Name = "gain")] private readonly SNLinear _gain;
    [ComponentName(Name = "bias")] private readonly SNLinear _bias;
    [ComponentName(Name = "stored_mean")] private readonly Tensor _storedMean;
    [ComponentName(Name = "stored_var")] private readonly Tensor _storedVar;
    private readonly double _eps;

    public ConditionalBatchNorm(long channels, long conditioningDim, double eps) : base(nameof(ConditionalBatchNorm))
    {
        _gain = new SNLinear(conditioningDim, channels, bias: false);
        _bias = new SNLinear(conditioningDim, channels, bias: false);
        _storedMean = zeros(channels);
        _storedVar = ones(channels);
        _eps = eps;
        RegisterComponents();
    }

    /// <param name="x">[B, C, H, W]</param>
    /// <param name="conditioning">[B, shared_dim + z_chunk]</param>
    public override Tensor forward(Tensor x, Tensor conditioning)
    {
        using var scope = NewDisposeScope();
        var batch = conditioning.shape[0];
        var inverseStd = (_storedVar + _eps).sqrt().reciprocal_();       // [C], as eval batch norm computes it
        var scale = (1 + _gain.call(conditioning)) * inverseStd;         // [B, C]
        var shift = _bias.call(conditioning) - _storedMean * scale;      // [B, C]
        return addcmul(shift.view(batch, -1, 1, 1), x, scale.view(batch, -1, 1, 1), value: 1) // [B, C, H, W]
            .MoveToOuterDisposeScope();
    }
}
