using FuseDream.Generation;
using FuseDream.Models;
using FuseDream.Worker;
using TorchSharp;
using static TorchSharp.torch;

namespace FuseDream.Tests.Generation;

/// <summary>The pieces of the host-stall-free step that run on the CPU too, and the settings behind precision and threads.</summary>
public sealed class StepTransferTests
{
    [Fact]
    public void MoveTogether_KeepsShapesTypesAndValues()
    {
        using var scope = NewDisposeScope();
        var noise = randn([1, 7], generator: new Generator(3));
        var offsets = randint(-16, 17, [4, 1, 1], generator: new Generator(4));
        var moved = DeviceTransfer.MoveTogether([noise, offsets], CPU);
        Assert.Equal(2, moved.Length);
        Assert.Equal(ScalarType.Float32, moved[0].dtype);
        Assert.Equal(ScalarType.Int64, moved[1].dtype);
        Assert.Equal(noise.shape, moved[0].shape);
        Assert.Equal(offsets.shape, moved[1].shape);
        Assert.True(noise.eq(moved[0]).all().item<bool>());
        Assert.True(offsets.eq(moved[1]).all().item<bool>());
    }

    [Fact]
    public void CachedResize_GivesTheSameValues_AndAPreparedRangeMakesNoNewTensors()
    {
        using var scope = NewDisposeScope();
        var image = rand([1, 3, 40, 40], generator: new Generator(9));
        var first = BilinearResize.Resize(image, 37, 37);
        var again = BilinearResize.Resize(image, 37, 37);
        Assert.True(first.eq(again).all().item<bool>());

        // A size pair no other test uses: preparing it makes the cached taps once (4 tensors per
        // axis and size), and resizing to any size of the range afterwards makes none.
        var odd = rand([1, 3, 41, 41], generator: new Generator(9));
        var unprepared = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        BilinearResize.Prepare(odd.device, odd.dtype, 41, 30, 50);
        var before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        Assert.Equal(unprepared + 20 * 2 * 4, before);
        for (var size = 30; size <= 50; size++)
            BilinearResize.Resize(odd, size, size).Dispose();
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [Fact]
    public void Settings_PrecisionAndThreads_AreValidated()
    {
        Assert.Contains("Models:Precision (env Models__Precision) must be auto, fp32 or bf16 (got 'fp16').",
            new ModelPathsOptions { Precision = "fp16" }.Validate());
        Assert.DoesNotContain(new ModelPathsOptions { Precision = "bf16" }.Validate(), e => e.StartsWith("Models:Precision", StringComparison.Ordinal));
        var results = new List<System.ComponentModel.DataAnnotations.ValidationResult>();
        var negative = new WorkerOptions { Threads = -1 };
        var valid = System.ComponentModel.DataAnnotations.Validator.TryValidateObject(
            negative, new System.ComponentModel.DataAnnotations.ValidationContext(negative), results, validateAllProperties: true);
        Assert.False(valid);
        Assert.Contains(results, r => r.ErrorMessage == "Worker:Threads must be between 0 (libtorch's choice) and 1024.");
    }
}

/// <summary>libtorch's fused bilinear resize against the exact path the parity tests use.</summary>
public sealed class FusedResizeTests
{
    [Theory]
    [InlineData(256, 224)] // BigGAN-256 → CLIP
    [InlineData(512, 224)] // BigGAN-512 → CLIP
    [InlineData(256, 204)] // the resize augmentation's range at 256: 0.8×
    [InlineData(256, 307)] // … 1.2×
    public void Fused_IsWithinAFewMillionthsOfTheExactPath_ValuesAndGradients(int from, int to)
    {
        using var scope = NewDisposeScope();
        var image = rand([2, 3, from, from], generator: new Generator((ulong)(from + to))).requires_grad_(true);
        var weights = rand([2, 3, to, to], generator: new Generator(1));
        var exact = BilinearResize.Resize(image, to, to);
        (exact * weights).sum().backward();
        var exactGrad = image.grad!.clone();
        image.grad!.zero_();
        var fused = BilinearResize.ResizeFused(image, to, to);
        (fused * weights).sum().backward();

        Support.TensorAssert.Close(exact.detach(), fused.detach(), atol: 2e-5, rtol: 0, name: $"fused resize {from}→{to}");
        Support.TensorAssert.Close(exactGrad, image.grad!, atol: 2e-4, rtol: 0, name: $"fused resize gradient {from}→{to}");
    }

    /// <summary>The composed generation's hypergradient differentiates the resize twice: the fused kernel's second order agrees too.</summary>
    [Theory]
    [InlineData(256, 224)]
    [InlineData(64, 77)]
    public void Fused_SecondOrderGradients_MatchTheExactPath(int from, int to)
    {
        using var scope = NewDisposeScope();
        var image = rand([1, 3, from, from], generator: new Generator((ulong)(3 * from + to)), dtype: ScalarType.Float64).requires_grad_(true);
        var weights = rand([1, 3, to, to], generator: new Generator(2), dtype: ScalarType.Float64);
        var direction = rand([1, 3, from, from], generator: new Generator(3), dtype: ScalarType.Float64);
        Tensor SecondOrder(Func<Tensor, Tensor> resize)
        {
            // d/dx ⟨∇ₓ Σ (w ⊙ resize(x))², v⟩: a Hessian-vector product through the resize.
            var loss = (resize(image) * weights).square().sum();
            var gradient = autograd.grad([loss], [image], retain_graph: true, create_graph: true)[0];
            return autograd.grad([(gradient * direction).sum()], [image])[0];
        }
        var exact = SecondOrder(x => BilinearResize.Resize(x, to, to));
        var fused = SecondOrder(x => BilinearResize.ResizeFused(x, to, to));
        Assert.True(exact.abs().max().ToDouble() > 0, "the second-order gradient should not vanish");
        Support.TensorAssert.Close(exact, fused, atol: 1e-9, rtol: 1e-9, name: $"fused resize second order {from}→{to}");
    }
}
