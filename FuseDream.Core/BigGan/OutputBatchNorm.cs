using TorchSharp;
using TorchSharp.Utils;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace FuseDream.BigGan;

/// <summary>
/// Mirrors <c>layers.bn</c> in eval mode: unconditional batch norm with the stored statistics and
/// a learned <c>gain</c>/<c>bias</c> (named as the original names them, not weight/bias).
/// </summary>
internal sealed class OutputBatchNorm : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "gain")] private readonly Parameter _gain;
    [ComponentName(Name = "bias")] private readonly Parameter _bias;
    [ComponentName(Name = "stored_mean")] private readonly Tensor _storedMean;
    [ComponentName(Name = "stored_var")] private readonly Tensor _storedVar;
    private readonly double _eps;

    public OutputBatchNorm(long channels, double eps) : base(nameof(OutputBatchNorm))
    {
        _gain = new Parameter(ones(channels), requires_grad: false);
        _bias = new Parameter(zeros(channels), requires_grad: false);
        _storedMean = zeros(channels);
        _storedVar = ones(channels);
        _eps = eps;
        RegisterComponents();
    }

    // [B, C, H, W] → [B, C, H, W]
    public override Tensor forward(Tensor x) =>
        F.batch_norm(x, _storedMean, _storedVar, _gain, _bias, training: false, momentum: 0.1, eps: _eps);
}
