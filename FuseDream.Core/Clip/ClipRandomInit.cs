using static TorchSharp.torch;

namespace FuseDream.Clip;

/// <summary>
/// Random CLIP weights at the scales of the original's <c>initialize_parameters</c> (normal draws;
/// LayerNorms 1/0, biases 0, logit scale ln 1/0.07). For benchmarks and tests: the distributions
/// of PyTorch's default initialisers are not reproduced.
/// </summary>
public static class ClipRandomInit
{
    public static ClipModel Create(ClipConfig config, Generator generator, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(generator);
        var model = new ClipModel(config, device);
        try
        {
            Fill(model, config, generator);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    private static void Fill(ClipModel model, ClipConfig config, Generator generator)
    {
        using var _ = no_grad();
        foreach (var (name, p) in model.named_parameters())
        {
            var vision = name.StartsWith("visual.", StringComparison.Ordinal);
            double width = vision ? config.VisionWidth : config.TransformerWidth;
            double layers = vision ? config.VisionLayers : config.TransformerLayers;
            var attnStd = Math.Pow(width, -0.5);
            var projStd = attnStd * Math.Pow(2 * layers, -0.5);
            if (name == "logit_scale")
                continue;
            if (name.Contains(".ln_", StringComparison.Ordinal) || name.StartsWith("ln_", StringComparison.Ordinal))
            {
                p.fill_(name.EndsWith("weight", StringComparison.Ordinal) ? 1.0 : 0.0);
                continue;
            }
            if (name.EndsWith("bias", StringComparison.Ordinal))
            {
                p.zero_();
                continue;
            }
            var std = name switch
            {
                "token_embedding.weight" => 0.02,
                "positional_embedding" => 0.01,
                "visual.conv1.weight" => Math.Pow(3.0 * config.VisionPatchSize * config.VisionPatchSize, -0.5),
                _ when name.EndsWith("in_proj_weight", StringComparison.Ordinal) => attnStd,
                _ when name.EndsWith("out_proj.weight", StringComparison.Ordinal) => projStd,
                _ when name.EndsWith("c_fc.weight", StringComparison.Ordinal) => Math.Pow(2 * width, -0.5),
                _ when name.EndsWith("c_proj.weight", StringComparison.Ordinal) => projStd,
                _ => attnStd, // text_projection; visual class/positional embedding and proj (width^-0.5)
            };
            using var draw = randn(p.shape, generator: generator).mul_(std);
            p.copy_(draw);
        }
    }
}
