using FuseDream.Models;
using TorchSharp;

namespace FuseDream.Tests.Models;

/// <summary>Device names as every command and the worker read them.</summary>
public sealed class DeviceSelectorTests
{
    [Theory]
    [InlineData("cpu")]
    [InlineData("")]
    [InlineData(null)]
    public void Cpu_AndNothing_MeanTheCpu(string? name) =>
        Assert.Equal(DeviceType.CPU, DeviceSelector.Parse(name).type);

    [Fact]
    public void Auto_IsCudaWhenAvailable_ElseTheCpu()
    {
        var expected = torch.cuda.is_available() ? DeviceType.CUDA : DeviceType.CPU;
        Assert.Equal(expected, DeviceSelector.Parse("auto").type);
        Assert.Equal(torch.cuda.is_available() ? "cuda" : "cpu", DeviceSelector.Resolve("auto"));
        Assert.Equal("cuda:1", DeviceSelector.Resolve("cuda:1"));
    }

    [Theory]
    [InlineData("tpu")]
    [InlineData("cuda:x")]
    [InlineData("gpu0")]
    public void NotADevice_SaysWhatIsAccepted(string name)
    {
        var ex = Assert.Throws<ArgumentException>(() => DeviceSelector.Parse(name));
        Assert.Equal($"Device: '{name}' is not a device; use cpu, cuda or cuda:N", ex.Message);
    }

    [Theory]
    [InlineData("cuda")]
    [InlineData("cuda:0")]
    public void Cuda_WithoutCuda_SaysSo(string name)
    {
        if (torch.cuda.is_available())
        {
            Assert.Equal(DeviceType.CUDA, DeviceSelector.Parse(name).type);
            return;
        }
        var ex = Assert.Throws<ArgumentException>(() => DeviceSelector.Parse(name));
        Assert.StartsWith($"Device: '{name}' asked for CUDA, but no CUDA device is available", ex.Message);
    }

    [Fact]
    public void WorkerOnCpu_IsTheCpuForEveryThread()
    {
        Assert.Equal("cpu", DeviceSelector.ForWorker("cpu", 0));
        Assert.Equal("cpu", DeviceSelector.ForWorker("cpu", 3));
    }

    [Fact]
    public void WorkerOnCuda_GivesThreadIItsOwnGpu_OrNamesTheCountToSet()
    {
        var count = torch.cuda.is_available() ? torch.cuda.device_count() : 0;
        if (count > 0) Assert.Equal("cuda:0", DeviceSelector.ForWorker("cuda", 0));
        var ex = Assert.Throws<InvalidOperationException>(() => DeviceSelector.ForWorker("cuda", count));
        Assert.Equal(
            $"Worker:Count asks for worker thread {count + 1}, but only {count} CUDA device(s) are visible: set Worker:Count (env Worker__Count) to at most {count}.",
            ex.Message);
    }

    [Theory]
    [InlineData("cuda:0")]
    [InlineData("gpu")]
    public void WorkerSetting_OutsideAutoCpuCuda_IsRejectedWithTheSettingNamed(string setting)
    {
        Assert.Equal($"Models:Device (env Models__Device) must be auto, cpu or cuda (got '{setting}').",
            new ModelPathsOptions { Device = setting }.Validate().Single(e => e.StartsWith("Models:Device", StringComparison.Ordinal)));
        Assert.Throws<ArgumentException>(() => DeviceSelector.ForWorker(setting, 0));
    }
}
