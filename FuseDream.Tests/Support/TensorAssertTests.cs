using Xunit.Sdk;
using static TorchSharp.torch;

namespace FuseDream.Tests.Support;

/// <summary>The comparison every parity test relies on fails on what it must catch.</summary>
public class TensorAssertTests
{
    private static Tensor Reference() => tensor(new[] { 1.0f, -2.0f, 0.5f, 3.0f, 0.0f, -0.25f }).view(2, 3);

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    public void NonFiniteActual_Fails_CountingTheElements(float bad)
    {
        using var scope = NewDisposeScope();
        var expected = Reference();
        var actual = expected.clone();
        actual[0, 1] = tensor(bad);
        actual[1, 2] = tensor(bad);
        var ex = Assert.Throws<FailException>(() => TensorAssert.Close(expected, actual, 1e-3, 1e-3, "x"));
        Assert.Contains("2 of 6 elements are not finite", ex.Message);
        Assert.Contains("element 1:", ex.Message);
    }

    [Fact]
    public void NonFiniteExpected_Fails()
    {
        using var scope = NewDisposeScope();
        var actual = Reference();
        var expected = actual.clone();
        expected[1, 0] = tensor(float.NaN);
        var ex = Assert.Throws<FailException>(() => TensorAssert.Close(expected, actual, 1e3, 1e3, "x"));
        Assert.Contains("1 of 6 elements are not finite", ex.Message);
    }

    [Fact]
    public void NaN_Fails_EvenWithAHugeTolerance()
    {
        using var scope = NewDisposeScope();
        var expected = Reference();
        var actual = expected.clone();
        actual[1, 1] = tensor(float.NaN);
        Assert.Throws<FailException>(() => TensorAssert.Close(expected, actual, double.MaxValue, 0, "x"));
    }

    [Fact]
    public void OneElementOutsideTolerance_Fails_NamingItsIndexAndValues()
    {
        using var scope = NewDisposeScope();
        var expected = Reference();
        var actual = expected.clone();
        actual[1, 0] = tensor(3.01f); // element 3, expected 3
        var ex = Assert.Throws<FailException>(() => TensorAssert.Close(expected, actual, 1e-3, 1e-3, "x"));
        Assert.Contains("1 of 6 elements outside tolerance", ex.Message);
        Assert.Contains("element 3: 3.00999999, expected 3", ex.Message);
    }

    [Fact]
    public void ShapeMismatch_Fails_EvenWithTheSameValues()
    {
        using var scope = NewDisposeScope();
        var expected = Reference();
        var ex = Assert.Throws<TrueException>(() => TensorAssert.Close(expected, expected.view(3, 2), 1, 1, "x"));
        Assert.Contains("shape [3,2], expected [2,3]", ex.Message);
    }

    [Fact]
    public void WithinTolerance_Passes()
    {
        using var scope = NewDisposeScope();
        var expected = Reference();
        // atol 1e-3 + rtol 1e-3·|expected|: 3 may move by 0.004, 0 by 0.001.
        var actual = expected + tensor(new[] { 0.0019f, -0.0029f, 0.0014f, 0.0039f, -0.00099f, 0.0012f }).view(2, 3);
        TensorAssert.Close(expected, actual, 1e-3, 1e-3, "x");
    }

    [Fact]
    public void ExtraAllowance_AppliesOnlyWhereGiven()
    {
        using var scope = NewDisposeScope();
        var expected = Reference();
        var actual = expected + 0.01f;
        var allowance = tensor(new[] { 0.02, 0.02, 0.02, 0.02, 0.02, 0.0 }).view(2, 3);
        var ex = Assert.Throws<FailException>(() => TensorAssert.Close(expected, actual, 1e-3, 0, allowance, "x"));
        Assert.Contains("1 of 6 elements outside tolerance", ex.Message);
        Assert.Contains("element 5:", ex.Message);

        allowance[1, 2] = tensor(0.02);
        TensorAssert.Close(expected, actual, 1e-3, 0, allowance, "x");
    }
}
