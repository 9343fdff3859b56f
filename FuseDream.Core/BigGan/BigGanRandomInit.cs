using FuseDream.Checkpoints;
using static TorchSharp.torch;

namespace FuseDream.BigGan;

/// <summary>
/// Random BigGAN generator weights of plausible scales (for manifests and benchmarks: the images
/// mean nothing), drawn from a generator of their own so the process-wide stream is untouched.
/// </summary>
public static class BigGanRandomInit
{
    public static BigGanGenerator Create(BigGanConfig config, long seed)
    {
        ArgumentNullException.ThrowIfNull(config);
        var generator = new BigGanGenerator(config);
        try
        {
            Fill(generator, new Generator((ulong)seed));
            BigGanCheckpoint.Prepare(generator, device: null);
            return generator;
        }
        catch
        {
            generator.Dispose();
            throw;
        }
    }

    private static void Fill(BigGanGenerator generator, Generator random)
    {
        using var noGrad = no_grad();
        foreach (var (key, tensor) in generator.state_dict())
        {
            var name = key[(key.LastIndexOf('.') + 1)..];
            switch (name)
            {
                case "sv0":
                    tensor.fill_(1);
                    break;
                case "u0":
                case "weight" when key == "shared.weight":
                    tensor.normal_(0, 1, random);
                    break;
                case "weight":
                    tensor.normal_(0, 1 / Math.Sqrt(tensor.numel() / tensor.shape[0]), random);
                    break;
                case "stored_mean":
                    tensor.normal_(0, 0.2, random);
                    break;
                case "stored_var":
                    tensor.uniform_(0.5, 1.5, random);
                    break;
                case "gamma":
                    tensor.uniform_(0.5, 1.0, random);
                    break;
                case "gain":
                    tensor.fill_(1);
                    break;
                case "bias":
                    tensor.zero_();
                    break;
                default:
                    throw new InvalidOperationException($"No random initialisation for '{key}'.");
            }
        }
    }
}
