using FuseDream.Generations;
using FuseDream.Hosting;
using FuseDream.Persistence;
using FuseDream.Queue;
using FuseDream.Worker;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;

namespace FuseDream.Tests.Support;

/// <summary>
/// A <see cref="GenerationService"/> on a test database in one-machine mode
/// (<c>Health:RequireWorker</c> false): submits are queued for a worker that starts later, or never.
/// Pass the row classes a test also uses directly, so both see the same instances.
/// </summary>
internal static class OneMachineGenerationService
{
    public static GenerationService Create(NpgsqlDataSource dataSource, GenerationQueue queue,
        GenerationSubmissions? submissions = null, GenerationStateMachine? states = null, GenerationRepository? repository = null) =>
        new(submissions ?? new GenerationSubmissions(dataSource),
            states ?? new GenerationStateMachine(dataSource),
            repository ?? new GenerationRepository(dataSource),
            queue,
            new ServingWorkers(new WorkerRegistry(dataSource), Options.Create(new WorkerOptions()), Options.Create(new HealthOptions { RequireWorker = false })),
            NullLogger<GenerationService>.Instance);
}
