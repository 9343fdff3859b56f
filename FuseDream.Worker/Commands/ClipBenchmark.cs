using System.CommandLine;
using System.Diagnostics;
using FuseDream.Clip;
using FuseDream.Text;
using TorchSharp;
using static TorchSharp.torch;
using FuseDream.Checkpoints;

namespace FuseDream.Worker.Commands;

/// <summary>
/// <c>bench clip</c>: times <c>EncodeText</c>, <c>EncodeImage</c> and <c>EncodeImage</c> with the
/// backward pass to the image (what each optimisation step costs) on a random-weight CLIP,
/// ViT-B/32 by default, and prints the live tensor count to show memory stays flat.
/// </summary>
public static class ClipBenchmark
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "ViT-B/32, ViT-B/16 or ViT-L/14 (random weights), or a checkpoint path.", DefaultValueFactory = _ => "ViT-B/32" };
        var batch = new Option<int>("--batch") { Description = "Images per EncodeImage call.", DefaultValueFactory = _ => 8 };
        var iterations = new Option<int>("--iterations") { Description = "Timed calls per measurement (after one warm-up).", DefaultValueFactory = _ => 5 };
        var runtime = new RuntimeOptions(defaultDevice: "cpu");
        var command = new Command("clip", "Time CLIP's image and text encoders (random-weight ViT-B/32 by default).") { model, batch, iterations };
        runtime.AddTo(command);
        command.SetAction(parse =>
        {
            var n = parse.GetValue(batch);
            var iters = parse.GetValue(iterations);
            if (n <= 0 || iters <= 0)
            {
                Console.Error.WriteLine($"--batch and --iterations must be positive; got {n} and {iters}.");
                return 2;
            }
            try
            {
                var device = runtime.ParseDevice(parse);
                runtime.ApplyThreads(parse);
                Run(parse.GetValue(model)!, n, iters, device);
                return 0;
            }
            catch (ArgumentException ex)
            {
                Console.Error.WriteLine($"error: {ex.Message}");
                return 2;
            }
        });
        return command;
    }

    private static void Run(string modelName, int batch, int iterations, Device device)
    {
        var watch = Stopwatch.StartNew();
        using var model = modelName switch
        {
            "ViT-B/32" => ClipRandomInit.Create(ClipConfig.VitB32, new Generator(0), device),
            "ViT-B/16" => ClipRandomInit.Create(ClipConfig.VitB16, new Generator(0), device),
            "ViT-L/14" => ClipRandomInit.Create(ClipConfig.VitL14, new Generator(0), device),
            _ => ClipCheckpoint.Load(modelName, device),
        };
        var build = watch.Elapsed;
        var r = model.InputResolution;
        using var tokens = tensor(ClipTokenizer.Default.TokenizeBatch(["a photo of a cat"])).view(1, ClipTokenizer.ContextLength).to(device);
        using var image = rand([batch, 3, r, r], generator: new Generator(1)).to(device);

        double Time(Action step)
        {
            step();
            Synchronize(device);
            var w = Stopwatch.StartNew();
            for (var i = 0; i < iterations; i++) step();
            Synchronize(device);
            return w.Elapsed.TotalMilliseconds / iterations;
        }

        var textMs = Time(() =>
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            model.EncodeText(tokens);
        });
        var imageMs = Time(() =>
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            model.EncodeImage(ClipPreprocessing.Normalize(image));
        });
        Tensor textFeatures;
        using (no_grad()) textFeatures = model.EncodeText(tokens);
        var before = FuseDream.Generation.LiveTensorCount.Uncached;
        var backwardMs = Time(() =>
        {
            using var scope = NewDisposeScope();
            var leaf = image.detach().requires_grad_(true);
            var score = ClipModel.CosineSimilarity(model.EncodeImage(ClipPreprocessing.Normalize(leaf)), textFeatures).mean();
            score.backward();
        });
        var after = FuseDream.Generation.LiveTensorCount.Uncached;
        textFeatures.Dispose();

        Console.WriteLine($"CLIP {model.Config} on {device}, {iterations} timed call(s) after a warm-up");
        Console.WriteLine($"  {"build/load",-34} {build.TotalMilliseconds,10:F1} ms");
        Console.WriteLine($"  {"EncodeText [1, 77]",-34} {textMs,10:F1} ms");
        Console.WriteLine($"  {$"EncodeImage [{batch}, 3, {r}, {r}] no grad",-34} {imageMs,10:F1} ms   {imageMs / batch,8:F1} ms/image");
        Console.WriteLine($"  {"EncodeImage + backward to image",-34} {backwardMs,10:F1} ms   {backwardMs / batch,8:F1} ms/image");
        Console.WriteLine($"  live tensors across the backward loop: {before} before, {after} after");
    }

    private static void Synchronize(Device device)
    {
        if (device.type == DeviceType.CUDA) cuda.synchronize();
    }
}
