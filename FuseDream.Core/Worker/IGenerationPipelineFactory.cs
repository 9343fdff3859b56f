using FuseDream.Generation;

namespace FuseDream.Worker;

/// <summary>
/// Builds the pipeline a worker thread uses. Called once per worker thread when the worker
/// starts (models load once, not per job); the pipeline is then used by that thread only.
/// </summary>
internal interface IGenerationPipelineFactory
{
    /// <summary>Model ids the pipelines this factory builds can run, known without loading anything.</summary>
    IReadOnlyList<string> Models { get; }

    /// <summary>Checks what the pipeline needs (files, native libraries) and throws a message that says what to fix.</summary>
    void EnsureReady();

    /// <summary>Loads the models and returns the pipeline of worker thread <paramref name="workerIndex"/> (0-based; with several GPUs, the index picks the device).</summary>
    IGenerationPipeline Create(int workerIndex);
}
