using FuseDream.BigGan;
using FuseDream.Worker.Commands;
using static TorchSharp.torch;

namespace FuseDream.Tests.Generation;

/// <summary><c>bench memory</c>'s run, short: the rows it prints and its verdict.</summary>
public class MemoryBenchmarkTests(TinyPipeline tiny) : IClassFixture<TinyPipeline>
{
    [Fact]
    public void Run_PrintsARowEveryNSteps_AndCallsAFlatRunFlat()
    {
        using var generator = BigGanRandomInit.Create(BigGanConfig.ForResolution(128, channels: 4), seed: 3);
        var output = new StringWriter();
        var samples = MemoryBenchmark.Run(output, tiny.Clip, generator, CPU, steps: 12, every: 5, augmentations: 2);

        Assert.Equal([0, 5, 10, 12], samples.Select(s => s.Step));
        Assert.True(MemoryBenchmark.IsFlat(samples), output.ToString());
        Assert.All(samples, s => Assert.True(s.RssMb > 0));
        var text = output.ToString();
        Assert.Contains("| 10 | ", text);
        Assert.Contains("flat: the live-tensor count stayed at", text);
    }

    [Fact]
    public void IsFlat_IsFalse_WhenTheCountMoves()
    {
        MemoryBenchmark.Sample[] grew = [new(0, 10, 1, 1), new(250, 10, 1, 1), new(500, 11, 1, 1)];
        Assert.False(MemoryBenchmark.IsFlat(grew));
        Assert.True(MemoryBenchmark.IsFlat(grew[..2]));
    }

    [Fact]
    public void BadOptions_AreNamed()
    {
        using var generator = BigGanRandomInit.Create(BigGanConfig.ForResolution(128, channels: 4), seed: 3);
        var error = Assert.Throws<ArgumentException>(() => MemoryBenchmark.Run(TextWriter.Null, tiny.Clip, generator, CPU, steps: 10, every: 20, augmentations: 2));
        Assert.Contains("--every", error.Message);
    }
}
