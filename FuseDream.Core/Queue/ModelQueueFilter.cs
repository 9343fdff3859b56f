using Hangfire.Client;
using Hangfire.States;

namespace FuseDream.Queue;

/// <summary>
/// Keeps a generation job on the queue it was created on. Hangfire enqueues a retried job (and
/// one requeued by hand) on its <c>default</c> queue unless told otherwise; the queue names the
/// model, so the job records its queue when it is created and every later enqueue returns it
/// there. A job created before routing by model has no such record and goes back to
/// <see cref="QueueOptions.GpuQueue"/>, where it was.
/// </summary>
internal sealed class ModelQueueFilter : IClientFilter, IElectStateFilter
{
    /// <summary>The job parameter holding the job's queue.</summary>
    public const string Parameter = "FuseDreamQueue";

    public void OnCreating(CreatingContext context)
    {
        if (context.InitialState is EnqueuedState enqueued) context.SetJobParameter(Parameter, enqueued.Queue);
    }

    public void OnCreated(CreatedContext context)
    {
    }

    public void OnStateElection(ElectStateContext context)
    {
        if (context.CandidateState is not EnqueuedState enqueued) return;
        enqueued.Queue = context.GetJobParameter<string>(Parameter) ?? QueueOptions.GpuQueue;
    }
}
