using static TorchSharp.torch;

namespace FuseDream.Tests.Foundation;

public class TorchRuntimeTests
{
    [Fact]
    public void ManualSeedZero_Randn_MatchesPyTorchCpuStream()
    {
        // PyTorch: torch.manual_seed(0); torch.randn(1, 2) -> [[1.5410, -0.2934]]
        var generator = new TorchSharp.torch.Generator(0);
        using var x = randn(new long[] { 1, 2 }, generator: generator);
        var values = x.data<float>().ToArray();
        Assert.Equal(1.5410f, values[0], 1e-4f);
        Assert.Equal(-0.2934f, values[1], 1e-4f);
    }
}
