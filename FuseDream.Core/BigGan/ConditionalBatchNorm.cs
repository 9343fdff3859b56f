using TorchSharp;
using TorchSharp.Utils;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace FuseDream.BigGan;

/// <summary>
/// Mirrors <c>layers.ccbn</c> with <c>norm_style='bn'</c> in eval mode: batch norm with the
/// stored statistics and no affine part, then a per-sample gain <c>1 + gain(y)</c> and bias
/// <c>bias(y)</c> from bias-free spectral-norm linears of the conditioning vector [y, z chunk].
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
        var gain = (1 + _gain.call(conditioning)).view(batch, -1, 1, 1); // [B, C, 1, 1]
        var bias = _bias.call(conditioning).view(batch, -1, 1, 1);       // [B, C, 1, 1]
        var normalized = F.batch_norm(x, _storedMean, _storedVar, training: false, momentum: 0.1, eps: _eps);
        var scaled = normalized * gain;                                  // [B, C, H, W]
        normalized.Dispose();
        return scaled.add_(bias).MoveToOuterDisposeScope();
    }
}
