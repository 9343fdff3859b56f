using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using FuseDream.BigGan;
using TorchSharp;
using static TorchSharp.torch;

namespace FuseDream.Worker.Commands;

/// <summary>
/// <c>bench biggan</c>: forward and forward+backward time and peak memory of full-size BigGAN
/// generators with random weights, per device, resolution and batch size. Prints a table.
/// </summary>
public static class BigGanBenchmarkCommand
{
    public static Command Create()
    {
        var resolutions = new Option<int[]>("--resolution", "-r")
        {
            Description = "Generator resolutions to measure (256, 512; 128 also works).",
            DefaultValueFactory = _ => [256, 512],
            AllowMultipleArgumentsPerToken = true,
        };
        var batches = new Option<int[]>("--batch", "-b")
        {
            Description = "Batch sizes to measure.",
            DefaultValueFactory = _ => [1, 10],
            AllowMultipleArgumentsPerToken = true,
        };
        var repeats = new Option<int>("--repeats", "-n")
        {
            Description = "Timed runs per measurement (after the warm-up runs); the median and the fastest are printed.",
            DefaultValueFactory = _ => 3,
        };
        var warmup = new Option<int>("--warmup")
        {
            Description = "Untimed runs before timing.",
            DefaultValueFactory = _ => 1,
        };
        var runtime = new RuntimeOptions(defaultDevice: RuntimeOptions.AllDevices, allowAll: true);
        var channels = new Option<int>("--channels")
        {
            Description = "Channel width G_ch (96 = the released models; smaller for a quick smoke run).",
            DefaultValueFactory = _ => 96,
        };
        var forwardOnly = new Option<bool>("--forward-only")
        {
            Description = "Measure the forward pass only (skips forward+backward).",
        };

        var layouts = new Option<string[]>("--layout")
        {
            Description = "Memory layouts of the 3×3 convolutions to time, each in turn: nchw (what runs), channels-last (a trial).",
            DefaultValueFactory = _ => [Nchw],
            AllowMultipleArgumentsPerToken = true,
        };

        var command = new Command("biggan", "BigGAN generator: forward and forward+backward time and peak memory, random full-size weights.")
        {
            resolutions, batches, repeats, warmup, channels, forwardOnly, layouts,
        };
        runtime.AddTo(command);
        command.SetAction(parse =>
        {
            var settings = new Settings(
                parse.GetValue(resolutions)!, parse.GetValue(batches)!, parse.GetValue(repeats), parse.GetValue(warmup),
                parse.GetValue(channels), parse.GetValue(forwardOnly), parse.GetValue(layouts) ?? [Nchw]);
            List<Device> devices;
            try
            {
                runtime.ApplyThreads(parse);
                devices = runtime.DeviceName(parse) == RuntimeOptions.AllDevices
                    ? [CPU, .. cuda.is_available() ? new[] { CUDA } : []]
                    : [runtime.ParseDevice(parse)];
            }
            catch (ArgumentException ex)
            {
                Console.Error.WriteLine($"error: {ex.Message}");
                return 2;
            }
            return Run(settings, devices, Console.Out);
        });
        return command;
    }

    private const string Nchw = "nchw";
    private const string ChannelsLast = "channels-last";

    private sealed record Settings(int[] Resolutions, int[] Batches, int Repeats, int Warmup, int Channels, bool ForwardOnly, string[] Layouts);

    private static int Run(Settings settings, IReadOnlyList<Device> devices, TextWriter output)
    {
        if (settings.Repeats < 1 || settings.Warmup < 0 || settings.Batches.Any(b => b < 1) || settings.Channels < 1)
        {
            Console.Error.WriteLine("--repeats, --batch and --channels must be at least 1; --warmup at least 0.");
            return 2;
        }
        if (settings.Layouts.FirstOrDefault(l => l is not (Nchw or ChannelsLast)) is { } badLayout)
        {
            Console.Error.WriteLine($"--layout: '{badLayout}' is not one of {Nchw}, {ChannelsLast}.");
            return 2;
        }

        output.WriteLine($"BigGAN generator benchmark: G_ch {settings.Channels}, random weights, fp32; {settings.Warmup} warm-up + {settings.Repeats} timed runs; " +
                         $"CPU threads {get_num_threads()}; CUDA {(cuda.is_available() ? "available" : "not available")}.");
        output.WriteLine("forward = Generate under no_grad; fwd+bwd = Generate with z, y requiring grad, then image.mean().backward().");
        output.WriteLine("time: median / fastest, ms. memory: CPU = peak process RSS during the measurement (MiB); CUDA = device memory in use after it, held by the caching allocator (MiB).");
        output.WriteLine();
        output.WriteLine($"{"device",-6} {"res",4} {"batch",5} {"layout",-13} {"params",8} {"forward ms",17} {"fwd+bwd ms",17} {"fwd mem",9} {"fwd+bwd mem",11}");

        foreach (var dev in devices)
        foreach (var resolution in settings.Resolutions)
        {
            var config = BigGanConfig.ForResolution(resolution, settings.Channels);
            using var generator = BigGanRandomInit.Create(config, seed: 0);
            if (dev.type != DeviceType.CPU) generator.to(dev);
            var parameterCount = generator.parameters().Sum(p => p.numel());
            foreach (var batch in settings.Batches)
            foreach (var layout in settings.Layouts.Distinct())
            {
                generator.ChannelsLast = layout == ChannelsLast;
                var forward = Measure(generator, dev, batch, withBackward: false, settings);
                var backward = settings.ForwardOnly
                    ? new Measurement(double.NaN, double.NaN, double.NaN)
                    : Measure(generator, dev, batch, withBackward: true, settings);
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{dev.type.ToString().ToLowerInvariant(),-6} {resolution,4} {batch,5} {layout,-13} {parameterCount / 1e6,7:F1}M {Time(forward),17} {Time(backward),17} {Number(forward.MemoryMiB),9} {Number(backward.MemoryMiB),11}"));
            }
        }
        return 0;
    }

    private readonly record struct Measurement(double Median, double Fastest, double MemoryMiB);

    private static string Time(Measurement m) =>
        double.IsNaN(m.Median) ? "-" : string.Create(CultureInfo.InvariantCulture, $"{m.Median:F1} / {m.Fastest:F1}");

    private static string Number(double value) =>
        double.IsNaN(value) ? "-" : value.ToString("F0", CultureInfo.InvariantCulture);

    private static Measurement Measure(BigGanGenerator generator, Device device, int batch, bool withBackward, Settings settings)
    {
        var random = new Generator(12345);
        using var z = randn([batch, generator.DimZ], generator: random).to(device);
        using var classes = randint(0, generator.NumClasses, [batch], generator: random);
        using var y = generator.ClassEmbedding(classes);

        void Step()
        {
            using var scope = NewDisposeScope();
            if (withBackward)
            {
                var zLeaf = z.detach().requires_grad_(true);
                var yLeaf = y.detach().requires_grad_(true);
                generator.Generate(zLeaf, yLeaf).mean().backward();
            }
            else
            {
                using var noGrad = no_grad();
                generator.Generate(z, y);
            }
            if (device.type == DeviceType.CUDA) cuda.synchronize();
        }

        for (var i = 0; i < settings.Warmup; i++) Step();
        MemoryProbe.ResetPeak();
        var times = new double[settings.Repeats];
        for (var i = 0; i < settings.Repeats; i++)
        {
            var watch = Stopwatch.StartNew();
            Step();
            times[i] = watch.Elapsed.TotalMilliseconds;
        }
        Array.Sort(times);
        var memory = device.type == DeviceType.CUDA ? MemoryProbe.CudaUsedMiB() : MemoryProbe.PeakRssMiB();
        return new Measurement(times[times.Length / 2], times[0], memory);
    }
}
