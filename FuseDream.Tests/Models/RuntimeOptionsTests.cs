using System.CommandLine;
using FuseDream.Worker.Commands;
using TorchSharp;

namespace FuseDream.Tests.Models;

/// <summary>The one --device / --threads pair every tensor command takes.</summary>
public sealed class RuntimeOptionsTests
{
    private static (RuntimeOptions Options, ParseResult Parse) Parse(RuntimeOptions options, params string[] args)
    {
        var command = new Command("test");
        options.AddTo(command);
        var parse = command.Parse(args);
        Assert.Empty(parse.Errors);
        return (options, parse);
    }

    [Fact]
    public void Defaults_AreTheCommandsOwn()
    {
        var (generate, parse) = Parse(new RuntimeOptions());
        Assert.Equal(torch.cuda.is_available() ? "cuda" : "cpu", generate.DeviceName(parse));

        var (clip, clipParse) = Parse(new RuntimeOptions(defaultDevice: "cpu"));
        Assert.Equal(DeviceType.CPU, clip.ParseDevice(clipParse).type);

        var (bench, benchParse) = Parse(new RuntimeOptions(defaultDevice: RuntimeOptions.AllDevices, allowAll: true));
        Assert.Equal("all", bench.DeviceName(benchParse));
    }

    [Fact]
    public void BadDevice_IsNamedWithTheOption()
    {
        var (options, parse) = Parse(new RuntimeOptions(), "--device", "tpu");
        var ex = Assert.Throws<ArgumentException>(() => options.ParseDevice(parse));
        Assert.Equal("--device: Device: 'tpu' is not a device; use cpu, cuda or cuda:N", ex.Message);

        var (notAll, allParse) = Parse(new RuntimeOptions(), "-d", "all");
        Assert.Equal("all", notAll.DeviceName(allParse));
        Assert.Throws<ArgumentException>(() => notAll.ParseDevice(allParse));
    }

    [Fact]
    public void Threads_NegativeIsRejected_AbsentIsTheProcessorsCores_ZeroKeepsLibtorchsChoice()
    {
        var before = torch.get_num_threads();
        try
        {
            var (options, parse) = Parse(new RuntimeOptions(), "--threads", "-2");
            var ex = Assert.Throws<ArgumentException>(() => options.ApplyThreads(parse));
            Assert.Equal("--threads must be at least 1, or 0 for libtorch's choice (got -2)", ex.Message);

            var (one, oneParse) = Parse(new RuntimeOptions(), "--threads", "1");
            one.ApplyThreads(oneParse);
            Assert.Equal(1, torch.get_num_threads());
            var (zero, zeroParse) = Parse(new RuntimeOptions(), "--threads", "0");
            zero.ApplyThreads(zeroParse);
            Assert.Equal(1, torch.get_num_threads());
            var (absent, absentParse) = Parse(new RuntimeOptions());
            absent.ApplyThreads(absentParse);
            Assert.Equal(Environment.ProcessorCount, torch.get_num_threads());
            Assert.Equal(Environment.ProcessorCount, FuseDream.Worker.TorchThreads.Default);
        }
        finally
        {
            torch.set_num_threads(before);
        }
    }
}
