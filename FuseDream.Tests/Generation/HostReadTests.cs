using System.Text.RegularExpressions;
using FuseDream.Generation;
using FuseDream.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace FuseDream.Tests.Generation;

public class HostReadTests
{
    [Theory]
    [InlineData(0.3125)]
    [InlineData(-7.5)]
    public void Reads_the_single_value_of_each_type(double value)
    {
        using var f32 = tensor((float)value);
        using var f64 = tensor(value);
        using var bf16 = tensor((float)value).to(ScalarType.BFloat16); // exact in bf16: a few mantissa bits
        using var i64 = tensor((long)Math.Round(value * 8));
        Assert.Equal((float)value, HostRead.Scalar<float>(f32));
        Assert.Equal(value, HostRead.Scalar<double>(f64));
        Assert.Equal(value, HostRead.Double(bf16));
        Assert.Equal((long)Math.Round(value * 8), HostRead.Long(i64));
    }

    [Fact]
    public void Leaves_no_tensor_behind_outside_a_dispose_scope()
    {
        using var values = tensor(new[] { 1.5f, 2.5f, 4.0f });
        var before = LiveTensors.Uncached;
        double total = 0;
        for (var i = 0; i < 10; i++) total += HostRead.Double(values.sum()) + HostRead.Long(values.argmax());
        Assert.Equal(10 * (8.0 + 2), total);
        // values.sum() and values.argmax() are the caller's: 20 of them, and nothing more.
        Assert.Equal(before + 20, LiveTensors.Uncached);
    }

    [Fact]
    public void Refuses_a_tensor_of_several_values()
    {
        using var values = tensor(new[] { 1f, 2f });
        Assert.ThrowsAny<Exception>(() => HostRead.Scalar<float>(values));
    }

    /// <summary>
    /// item&lt;T&gt;() on a device tensor leaks TorchSharp's temporary CPU copy (and ToDouble()
    /// leaves a native Scalar to the finalizer), so the project's own code reads single values only
    /// through HostRead (the benchmarks' explicit .cpu() reads aside).
    /// </summary>
    [Fact]
    public void Project_code_reads_single_values_only_through_HostRead()
    {
        var root = Foundation.ApiPublishTests.RepositoryRoot();
        var offenders = new List<string>();
        foreach (var project in new[] { "FuseDream.Core", "FuseDream.Api", "FuseDream.Worker" })
            foreach (var file in Directory.EnumerateFiles(Path.Combine(root, project), "*.cs", SearchOption.AllDirectories))
            {
                var relative = Path.GetRelativePath(root, file);
                if (relative.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") || relative.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}")) continue;
                if (Path.GetFileName(file) == "HostRead.cs") continue;
                var lines = File.ReadAllLines(file);
                for (var i = 0; i < lines.Length; i++)
                    if (Regex.IsMatch(lines[i], @"\.(item<|ToDouble\(\)|ToSingle\(\)|ToScalar\(\))") && !Regex.IsMatch(lines[i], @"\.cpu\(\)\.item<"))
                        offenders.Add($"{relative}:{i + 1}: {lines[i].Trim()}");
            }
        Assert.True(offenders.Count == 0, "single values read with item<T>() or ToDouble() instead of HostRead:\n" + string.Join("\n", offenders));
    }
}
