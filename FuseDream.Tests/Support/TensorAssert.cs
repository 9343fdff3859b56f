using static TorchSharp.torch;

namespace FuseDream.Tests.Support;

/// <summary>Numeric comparisons with messages that say where and by how much.</summary>
public static class TensorAssert
{
    /// <summary>Asserts |actual − expected| ≤ atol + rtol·|expected| element-wise (numpy.allclose).</summary>
    public static void Close(Tensor expected, Tensor actual, double atol, double rtol, string name)
    {
        Assert.True(expected.shape.SequenceEqual(actual.shape),
            $"{name}: shape [{string.Join(",", actual.shape)}], expected [{string.Join(",", expected.shape)}]");
        using var e = expected.detach().to(float64).cpu();
        using var a = actual.detach().to(float64).cpu();
        using var diff = (a - e).abs();
        using var allowed = e.abs() * rtol + atol;
        using var excess = diff - allowed;
        var worst = excess.max().item<double>();
        if (worst > 0)
        {
            var flat = excess.flatten();
            var index = flat.argmax().item<long>();
            var ev = e.flatten()[index].item<double>();
            var av = a.flatten()[index].item<double>();
            var maxAbs = diff.max().item<double>();
            Assert.Fail($"{name}: element {index} is {av:G9}, expected {ev:G9} (|diff| {Math.Abs(av - ev):G3} > atol {atol:G3} + rtol {rtol:G3}·|expected|); max |diff| {maxAbs:G3}");
        }
    }

    /// <summary>Gradient comparison relative to the largest reference gradient (see the fixtures' README).</summary>
    public static void CloseRelativeToMax(Tensor expected, Tensor actual, double tolerance, string name)
    {
        using var e = expected.detach().to(float64).cpu();
        var scale = e.abs().max().item<double>();
        Close(expected, actual, tolerance * Math.Max(scale, 1e-30), 0, name);
    }
}
