using System.Text.Json;
using System.Text.RegularExpressions;
using FuseDream.Generation;
using FuseDream.Tests.Support;
using static TorchSharp.torch;

namespace FuseDream.Tests.Generation;

/// <summary>DiffAugment against the original's outputs, given the draws it recorded (every set under Fixtures/diffaugment).</summary>
public class DiffAugmentParityTests
{
    public static TheoryData<string> Sets => FixtureSets.Theory("diffaugment", "diffaugment.json");

    [Theory]
    [MemberData(nameof(Sets))]
    public void EveryCase_MatchesTheOriginal_GivenItsDraws(string set)
    {
        using var doc = FixtureSets.Load(set);
        var root = doc.RootElement;
        using var reference = new ReferenceTensors(FixtureSets.Resolve(set, "diffaugment.safetensors"));
        var x = reference["input.x"];
        var checkedCases = 0;
        foreach (var @case in root.GetProperty("cases").EnumerateObject())
        {
            using var scope = NewDisposeScope();
            var name = @case.Name;
            var spec = @case.Value;
            Tensor actual;
            if (spec.TryGetProperty("draws", out var draws))
            {
                var random = RecordedRandomSource.FromFixture(draws, reference);
                actual = Run(name, spec.GetProperty("call").GetString()!, x, random);
                Assert.True(random.Remaining == 0, $"{name}: {random.Remaining} recorded draws were not used");
            }
            else if (spec.TryGetProperty("u", out var u))
            {
                var random = new RecordedRandomSource().AddScalar(u.GetDouble());
                actual = DiffAugment.Resize(x, random);
                AssertResizedTo(name, actual, spec.GetProperty("interpolated_size").GetInt64(), spec.GetProperty("branch").GetString()!);
            }
            else
            {
                throw new InvalidDataException($"case {name} has neither draws nor a forced resize draw");
            }
            var tolerance = spec.GetProperty("tolerance");
            TensorAssert.Close(reference[spec.GetProperty("output").GetString()!], actual,
                tolerance.GetProperty("atol").GetDouble(), tolerance.GetProperty("rtol").GetDouble(), $"{set}:{name}");
            checkedCases++;
        }
        Assert.True(checkedCases > 0, $"{set} has no cases");
    }

    [Theory]
    [MemberData(nameof(Sets))]
    public void SeededSource_DrawsWhatTheOriginalDrew(string set)
    {
        // The production generator, seeded as the original was before each call, must hand out
        // the same numbers: then a seed means the same thing here as in the original.
        using var doc = FixtureSets.Load(set);
        using var reference = new ReferenceTensors(FixtureSets.Resolve(set, "diffaugment.safetensors"));
        var compared = 0;
        foreach (var @case in doc.RootElement.GetProperty("cases").EnumerateObject())
        {
            var spec = @case.Value;
            if (!spec.TryGetProperty("draws", out var draws) || !spec.TryGetProperty("torch_manual_seed_before_call", out var torchSeed))
                continue;
            var numpySeed = spec.TryGetProperty("numpy_seed_before_call", out var np) ? np.GetInt64() : torchSeed.GetInt64();
            using var source = new TorchRandomSource(torchSeed.GetInt64(), (uint)numpySeed);
            foreach (var draw in draws.EnumerateArray())
            {
                using var scope = NewDisposeScope();
                var fn = draw.GetProperty("fn").GetString();
                var label = $"{@case.Name} draw {draw.GetProperty("index").GetInt32()}";
                if (fn == "numpy.random.rand")
                {
                    Assert.Equal(draw.GetProperty("value").GetDouble(), source.UniformScalar());
                    continue;
                }
                var expected = reference[draw.GetProperty("tensor").GetString()!];
                var actual = fn switch
                {
                    "torch.rand" => source.Rand(expected.shape, CPU),
                    "torch.randn" => source.RandN(expected.shape, CPU),
                    "torch.randint" => source.RandInt(
                        draw.GetProperty("args").GetProperty("args")[0].GetInt64(),
                        draw.GetProperty("args").GetProperty("args")[1].GetInt64(), expected.shape, CPU),
                    _ => throw new InvalidDataException($"{label}: unknown function {fn}"),
                };
                TensorAssert.Close(expected, actual, 0, 0, label);
                compared++;
            }
        }
        Assert.True(compared > 0, $"{set}: no seeded draws to compare");
    }

    [Theory]
    [MemberData(nameof(Sets))]
    public void SeededSource_ReproducesTheRecordedStreams(string set)
    {
        using var doc = FixtureSets.Load(set);
        using var reference = new ReferenceTensors(FixtureSets.Resolve(set, "diffaugment.safetensors"));
        var streams = doc.RootElement.GetProperty("rng_streams");

        using (var source = new TorchRandomSource(0))
        using (var rand = source.Rand([64], CPU))
            TensorAssert.Close(reference["rng.torch.rand64"], rand, 0, 0, "rand(64)");
        using (var source = new TorchRandomSource(0))
        using (var randn = source.RandN([64], CPU))
            TensorAssert.Close(reference["rng.torch.randn64"], randn, 1e-6, 0, "randn(64)");
        using (var source = new TorchRandomSource(0))
        using (var randint = source.RandInt(-5, 6, [64], CPU))
            TensorAssert.Close(reference["rng.torch.randint_m5_6_64"], randint, 0, 0, "randint(-5, 6, 64)");
        using (var source = new TorchRandomSource(0))
        {
            using var rand = source.Rand([64], CPU);
            using var randn = source.RandN([64], CPU);
            using var randint = source.RandInt(-5, 6, [64], CPU);
            TensorAssert.Close(reference["rng.seq.rand64"], rand, 0, 0, "seq rand(64)");
            TensorAssert.Close(reference["rng.seq.randn64"], randn, 1e-6, 0, "seq randn(64)");
            TensorAssert.Close(reference["rng.seq.randint_m5_6_64"], randint, 0, 0, "seq randint");
        }
        using (var source = new TorchRandomSource(0))
        {
            var expected = streams.GetProperty("numpy_seed0_rand_8").EnumerateArray().Select(e => e.GetDouble()).ToArray();
            var actual = expected.Select(_ => source.UniformScalar()).ToArray();
            Assert.Equal(expected, actual);
        }
    }

    /// <summary>
    /// The size the original interpolated to (from the descriptor), seen in the output: padded
    /// back, the image sits inside a zero border of (width − size) / 2 on the left and the rest
    /// on the right; cropped, no edge row or column is zero (the input has no zeros).
    /// </summary>
    private static void AssertResizedTo(string name, Tensor actual, long size, string branch)
    {
        using var scope = NewDisposeScope();
        var width = actual.shape[3];
        var columnIsZero = actual.abs().amax([0, 1, 2]).eq(0); // [width]
        var rowIsZero = actual.abs().amax([0, 1, 3]).eq(0); // [height]
        bool[] expected;
        switch (branch)
        {
            case "pad":
                Assert.True(size < width, $"{name}: a pad case must shrink (size {size}, width {width})");
                var left = (width - size) / 2;
                expected = Enumerable.Range(0, (int)width).Select(i => i < left || i >= left + size).ToArray();
                break;
            case "crop":
                Assert.True(size >= width, $"{name}: a crop case must not shrink (size {size}, width {width})");
                expected = new bool[width];
                break;
            default:
                throw new InvalidDataException($"{name}: unknown resize branch '{branch}'");
        }
        Assert.Equal(expected, columnIsZero.data<bool>().ToArray());
        Assert.Equal(expected, rowIsZero.data<bool>().ToArray());
    }

    private static Tensor Run(string name, string call, Tensor x, IRandomSource random)
    {
        var function = name.Split('.')[0];
        return function switch
        {
            "rand_brightness" => DiffAugment.Brightness(x, random),
            "rand_saturation" => DiffAugment.Saturation(x, random),
            "rand_contrast" => DiffAugment.Contrast(x, random),
            "rand_translation" => DiffAugment.Translation(x, random),
            "rand_cutout" => DiffAugment.Cutout(x, random),
            "rand_resize" => DiffAugment.Resize(x, random),
            "policy" => DiffAugment.Apply(x, AugmentPolicy.Parse(PolicyOf(call)), random),
            _ => throw new InvalidDataException($"case '{name}' ({call}) names no DiffAugment function this test knows"),
        };
    }

    private static string PolicyOf(string call)
    {
        var match = Regex.Match(call, @"policy='([^']*)'");
        if (!match.Success) throw new InvalidDataException($"no policy='…' in '{call}'");
        return match.Groups[1].Value;
    }
}
