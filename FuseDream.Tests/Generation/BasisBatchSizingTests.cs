using FuseDream.Generation;
using FuseDream.Models;
using static TorchSharp.torch;

namespace FuseDream.Tests.Generation;

/// <summary>The basis batch size chosen from memory, and that no batch size changes the result.</summary>
public class BasisBatchSizingTests(TinyPipeline tiny) : IClassFixture<TinyPipeline>
{
    private const long MiB = 1 << 20;
    private const long GiB = 1L << 30;

    [Theory]
    [InlineData(20 * GiB, 256, 16, 1.0, 16, "capped at 16")]       // 10 GiB / 192 MiB = 53
    [InlineData(20 * GiB, 256, BasisBatchSizing.CpuCap, 1.0, BasisBatchSizing.CpuCap, "capped at")]
    [InlineData(3 * GiB, 256, 16, 1.0, 8, "at 256")]               // 1.5 GiB / 192 MiB = 8
    [InlineData(3 * GiB, 256, 16, 0.5, 4, "× 0.5 share")]          // 768 MiB / 192 MiB = 4
    [InlineData(3 * GiB, 512, 16, 1.0, 2, "400 MiB a sample")]     // 1.5 GiB / 400 MiB = 3 → 2
    [InlineData(40 * GiB, 512, 64, 1.0, 32, "at 512")]             // 20 GiB / 400 MiB = 51 → 32
    [InlineData(100 * MiB, 256, 16, 1.0, 1, "at least 1")]
    public void FromMemory_IsHalfTheAvailableOverThePerSampleCost_APowerOfTwo_Capped(long available, int resolution, int cap, double share, int expected, string reason)
    {
        var choice = BasisBatchSizing.FromMemory(available, "available", resolution, cap, share);
        Assert.Equal(expected, choice.Size);
        Assert.Contains(reason, choice.Reason);
        Assert.StartsWith($"{expected} (half of ", choice.ToString());
    }

    [Fact]
    public void FromMemory_RefusesAShareOutsideZeroToOne()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => BasisBatchSizing.FromMemory(GiB, "available", 256, 16, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => BasisBatchSizing.FromMemory(GiB, "available", 256, 16, 1.5));
        Assert.True(BasisBatchSizing.BytesPerSample(512) > BasisBatchSizing.BytesPerSample(256));
    }

    [Fact]
    public void MemAvailable_IsReadFromProcMeminfo_InBytes()
    {
        Assert.Equal(20_512_345L * 1024, DeviceMemory.MemAvailable("MemTotal:       24000000 kB\nMemFree:         8000000 kB\nMemAvailable:   20512345 kB\n"));
        Assert.Null(DeviceMemory.MemAvailable("MemTotal:       24000000 kB\nMemFree:         8000000 kB\n"));
        var here = DeviceMemory.Available(CPU);
        Assert.NotNull(here);
        Assert.InRange(here.Value, 1, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes);
    }

    [Fact]
    public void Pipeline_ChoosesTheBasisBatchFromMemory_UnlessItIsSet()
    {
        using var chosen = new FuseDreamPipeline(tiny.Clip, [tiny.Generator], CPU, precision: Precision.Fp32);
        Assert.Contains(" available at ", chosen.BasisBatch.Reason);
        Assert.InRange(chosen.BasisBatch.Size, 1, BasisBatchSizing.CpuCap);
        Assert.Equal(chosen.BasisBatch.Size, chosen.Tuning.BasisBatchSize);

        using var set = new FuseDreamPipeline(tiny.Clip, [tiny.Generator], CPU, tuning: new PipelineTuning { BasisBatchSize = 3 }, precision: Precision.Fp32);
        Assert.Equal("3 (set explicitly)", set.BasisBatch.ToString());
        Assert.Equal(3, set.Tuning.BasisBatchSize);

        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new FuseDreamPipeline(tiny.Clip, [tiny.Generator], CPU, tuning: new PipelineTuning { BasisBatchSize = -1 }));
        Assert.Contains("BasisBatchSize must be at least 1, or 0 to choose it from memory (got -1)", ex.Message);
    }

    [Fact]
    public async Task SameSeed_GivesTheSameBasisAndImage_WhateverTheBasisBatchSize()
    {
        // 2 iterations × 5 samples, top 3: batches of 1, 3 (straddling the iterations), 4, 10
        // (every sample at once), and the size chosen from memory.
        var options = TinyPipeline.Options(steps: 2) with { BasisIterations = 2, SamplesPerIteration = 5, TopK = 3 };
        var request = new GenerationRequest("a photo of a cute corgi", 4321, options);
        GenerationResult? reference = null;
        foreach (var batch in new[] { 1, 3, 4, 10, PipelineTuning.ChooseFromMemory })
        {
            using var pipeline = new FuseDreamPipeline(tiny.Clip, [tiny.Generator], CPU,
                tuning: new PipelineTuning { BasisBatchSize = batch, MeasureBatchSize = 8 }, precision: Precision.Fp32);
            var result = await pipeline.RunAsync(request, null, null, CancellationToken.None);
            if (reference is null) { reference = result; continue; }
            var label = $"basis batch {pipeline.BasisBatch}";
            Assert.True(reference.FinalZ.SequenceEqual(result.FinalZ), $"{label}: another latent than with batches of 1");
            Assert.True(reference.Png.SequenceEqual(result.Png), $"{label}: another image than with batches of 1");
        }
    }
}
