using FuseDream.Generation;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using TorchSharp;
using FuseDream.Models;

namespace FuseDream.Worker;

/// <summary>
/// The production factory: checks the model files named by <see cref="ModelPathsOptions"/>
/// and the native libtorch at start, then builds the FuseDream pipeline for each worker thread.
/// </summary>
internal sealed class ModelPipelineFactory(IOptions<ModelPathsOptions> options, IOptions<WorkerOptions> workerOptions, Models.ModelStore store, ILogger<ModelPipelineFactory> logger) : IGenerationPipelineFactory
{
    // One ModelFile per file for all worker threads, so each file is hashed (at most) once.
    private (ModelFile Clip, ModelFile[] ExtraClips, ModelFile[] BigGans)? _files;

    public IReadOnlyList<string> Models => options.Value.ConfiguredModels;

    public void EnsureReady()
    {
        ModelStorePaths.PullMissing(store, options.Value, logger, CancellationToken.None);
        var errors = options.Value.Validate();
        if (errors.Count > 0)
            throw new InvalidOperationException("The worker cannot load its models: " + string.Join(" ", errors));
        EnsureTorchAvailable();
        var threads = TorchThreads.Apply(workerOptions.Value.Threads);
        var o = options.Value;
        var precision = ModelPrecision.Choose(o.Precision, DeviceSelector.Parse(DeviceSelector.ForWorker(o.Device, 0)));
        logger.LogInformation("libtorch uses {Threads} CPU threads (Worker:Threads {Setting}; {Cores} cores available to this process); models in {Precision} ({PrecisionReason}; Models:Precision = {PrecisionSetting})",
            threads, workerOptions.Value.Threads?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unset", TorchThreads.Default,
            ModelPrecision.Name(precision.Precision), precision.Reason, o.Precision);
        _files = (new ModelFile(o.Clip!), [.. o.ExtraClips.Select(p => new ModelFile(p))], [.. new[] { o.BigGan256, o.BigGan512 }.Where(p => !string.IsNullOrWhiteSpace(p)).Select(p => new ModelFile(p!))]);
    }

    public IGenerationPipeline Create(int workerIndex)
    {
        var files = _files ?? throw new InvalidOperationException("EnsureReady must run before the pipelines are created.");
        var device = DeviceSelector.ForWorker(options.Value.Device, workerIndex);
        var pipeline = FuseDreamPipeline.Load(new FuseDreamPipelineSettings
        {
            Clip = files.Clip,
            ExtraClips = files.ExtraClips,
            BigGans = files.BigGans,
            Device = device,
            Precision = options.Value.Precision,
            // Worker threads on the CPU share its memory; each CUDA thread has its own device.
            Tuning = new PipelineTuning { BasisMemoryShare = device == "cpu" ? 1.0 / Math.Max(1, workerOptions.Value.Count) : 1.0 },
        });
        logger.LogInformation("Worker thread {Index} on {Device}: basis batch {BasisBatch}", workerIndex, device, pipeline.BasisBatch);
        return pipeline;
    }

    /// <summary>Throws a message that says how to get libtorch when this process cannot load it.</summary>
    public static void EnsureTorchAvailable()
    {
        string? reason = null;
        try
        {
            if (!torch.TryInitializeDeviceType(DeviceType.CPU)) reason = "TorchSharp could not load its native backend";
        }
        catch (Exception ex) when (ex is DllNotFoundException or NotSupportedException or TypeInitializationException or InvalidOperationException)
        {
            reason = ex.GetBaseException().Message;
        }
        if (reason is not null)
            throw new InvalidOperationException(
                $"libtorch (TorchSharp's native backend) is not available in this process ({reason}). " +
                "The API is built without it: to run the worker in-process (Worker:InProcess=true) build the API with " +
                "-p:TorchBackend=cpu (scripts/run.sh does) or -p:TorchBackend=cuda; otherwise run the worker separately " +
                "(dotnet run --project FuseDream.Worker -- serve) and leave Worker:InProcess unset.");
    }
}
