using static TorchSharp.torch;

namespace FuseDream.Tests.Support;

/// <summary>Numeric comparisons with messages that say where and by how much.</summary>
public static class TensorAssert
{
    /// <summary>
    /// Asserts the shapes match and |actual − expected| ≤ atol + rtol·|expected| element-wise
    /// (numpy.allclose), with every element of both tensors finite. A NaN or an infinity fails
    /// the comparison: NaN compares false with everything, so a check on the largest excess
    /// alone would let it through.
    /// </summary>
    public static void Close(Tensor expected, Tensor actual, double atol, double rtol, string name) =>
        Close(expected, actual, atol, rtol, extraAllowance: null, name);

    /// <summary>
    /// As <see cref="Close(Tensor, Tensor, double, double, string)"/>, with a per-element
    /// <paramref name="extraAllowance"/> (broadcast to the shape) added to the tolerance, for
    /// elements a fixture allows to differ by more.
    /// </summary>
    public static void Close(Tensor expected, Tensor actual, double atol, double rtol, Tensor? extraAllowance, string name)
    {
        Assert.True(expected.shape.SequenceEqual(actual.shape),
            $"{name}: shape [{string.Join(",", actual.shape)}], expected [{string.Join(",", expected.shape)}]");
        using var scope = NewDisposeScope();
        var e = expected.detach().to(float64).cpu().flatten();
        var a = actual.detach().to(float64).cpu().flatten();
        if (e.numel() == 0) return;

        var nonFinite = a.isfinite().logical_not().logical_or(e.isfinite().logical_not());
        var nonFiniteCount = nonFinite.sum().item<long>();
        if (nonFiniteCount > 0)
        {
            var first = nonFinite.nonzero()[0, 0].item<long>();
            Assert.Fail($"{name}: {nonFiniteCount} of {e.numel()} elements are not finite; first at element {first}: {a[first].item<double>():G9}, expected {e[first].item<double>():G9}");
        }

        var diff = (a - e).abs();
        var extra = extraAllowance?.detach().to(float64).cpu().expand(expected.shape).flatten();
        var allowed = e.abs() * rtol + atol;
        if (extra is not null) allowed = allowed + extra;
        var excess = diff - allowed;
        var outside = excess.gt(0).sum().item<long>();
        if (outside > 0)
        {
            var index = excess.argmax().item<long>();
            var ev = e[index].item<double>();
            var av = a[index].item<double>();
            var allowance = extra is null ? "" : $" + allowance {extra[index].item<double>():G3}";
            Assert.Fail($"{name}: {outside} of {e.numel()} elements outside tolerance; worst is element {index}: {av:G9}, expected {ev:G9} (|diff| {Math.Abs(av - ev):G3} > atol {atol:G3} + rtol {rtol:G3}·|expected|{allowance}); max |diff| {diff.max().item<double>():G3}");
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
