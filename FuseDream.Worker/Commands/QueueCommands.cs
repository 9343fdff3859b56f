using System.CommandLine;
using System.Text.Json;
using FuseDream.Generation;
using FuseDream.Generations;
using FuseDream.Hosting;
using FuseDream.Persistence;
using FuseDream.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace FuseDream.Worker.Commands;

/// <summary>
/// <c>submit</c> and <c>cancel</c>: the service's queue from the command line, through the same
/// <see cref="GenerationService"/> as the HTTP API (same idempotency, same durability, same
/// outcomes). They need the service's database (<c>ConnectionStrings__FuseDream</c>); the
/// workers serving the queue do the generating.
/// </summary>
public static class QueueCommands
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = false };

    /// <summary>Exit codes beyond 0: bad input, the generation refused or not found, the queue or database down.</summary>
    public const int Refused = 1, BadInput = 2, Unavailable = 3;

    public static Command CreateSubmit()
    {
        var promptArgument = new Argument<string?>("prompt") { Description = "The text to draw (or --prompt).", Arity = ArgumentArity.ZeroOrOne };
        var prompt = new Option<string?>("--prompt", "-p") { Description = "The text to draw." };
        var preset = new Option<string>("--preset") { Description = $"Starting options: {string.Join(", ", GenerationPresets.All.Keys)}.", DefaultValueFactory = _ => "paper" };
        var seed = new Option<long?>("--seed") { Description = "Random seed (default: one is drawn and stored)." };
        var key = new Option<string?>("--idempotency-key") { Description = "Repeating a submit with the same key returns the first generation; another request with it is refused." };
        var overrides = new OptionOverrides();
        var command = new Command("submit", "Queue a generation for the workers, as POST /v1/generations does; prints the generation as one JSON line.")
        {
            promptArgument, prompt, preset, seed, key,
        };
        overrides.AddTo(command);
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction(async (parse, ct) =>
        {
            var error = parse.InvocationConfiguration.Error;
            var text = parse.GetValue(prompt) ?? parse.GetValue(promptArgument);
            var presetName = parse.GetValue(preset)!;
            var problems = new List<string>();
            if (new ClipPromptTokenCounter().Problem(text) is { } promptProblem) problems.Add($"prompt {promptProblem}");
            if (parse.GetValue(seed) is < 0) problems.Add($"--seed must be at least 0 (got {parse.GetValue(seed)})");
            if (parse.GetValue(key) is { } k && (k.Trim().Length is 0 or > 200)) problems.Add("--idempotency-key must be non-empty and at most 200 characters");
            // The API's cost limit, from the same configuration (appsettings, environment, --Generation:MaxClipEvaluations=…).
            var builder = CreateBuilder(parse);
            var limits = builder.Configuration.GetSection(GenerationLimits.Section).Get<GenerationLimits>() ?? new GenerationLimits();
            var requested = RequestedOptions.Resolve(presetName,
                preset => overrides.Apply(preset with { Model = GenerationOptions.Models.BigGan256 }, parse), limits);
            problems.AddRange(requested.Problems.Select(p => p.Field switch
            {
                RequestedOptions.PresetField => p.Reason,
                RequestedOptions.CostField => $"the run {p.Reason}",
                _ => $"{p.Field}: {p.Reason}",
            }));
            if (problems.Count > 0)
            {
                foreach (var problem in problems) error.WriteLine($"error: {problem}");
                return BadInput;
            }

            var request = new { prompt = text!, seed = parse.GetValue(seed), preset = requested.Preset!, options = requested.Options };
            var submission = new GenerationSubmission(text!, parse.GetValue(seed), requested.Preset!, requested.Options,
                GenerationSubmission.HashOf(request, Json), parse.GetValue(key)?.Trim());
            return await WithServiceAsync(builder, parse, async (service, output) =>
            {
                switch (await service.SubmitAsync(submission, ct))
                {
                    case SubmitOutcome.Accepted accepted:
                        output.WriteLine(Describe(accepted.Generation, accepted.Replayed));
                        return 0;
                    case SubmitOutcome.KeyConflict conflict:
                        error.WriteLine($"error: --idempotency-key was already used for generation {conflict.ExistingId} with a different request; use a new key for a new request");
                        return Refused;
                    case SubmitOutcome.ClipsUnavailable unavailable:
                        error.WriteLine($"error: nothing was queued: {string.Join("; ", unavailable.Missing.Select(m => m.Reason))}");
                        return Refused;
                    case SubmitOutcome.NoWorker noWorker:
                        error.WriteLine($"error: nothing was queued: {noWorker.Reason}");
                        return Unavailable;
                    default:
                        error.WriteLine("error: the job queue is not available; nothing was queued. Try again (with the same --idempotency-key, if you gave one).");
                        return Unavailable;
                }
            }, ct);
        });
        return command;
    }

    public static Command CreateCancel()
    {
        var id = new Argument<Guid>("id") { Description = "The generation's id (as submit or the API printed it)." };
        var command = new Command("cancel", "Cancel a generation, as POST /v1/generations/{id}/cancel does: a queued one at once, a running one within one step.") { id };
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction(async (parse, ct) => await WithServiceAsync(CreateBuilder(parse), parse, async (service, output) =>
        {
            var error = parse.InvocationConfiguration.Error;
            switch (await service.CancelAsync(parse.GetValue(id), ct))
            {
                case CancelOutcome.Canceled canceled:
                    output.WriteLine(Describe(canceled.Generation, replayed: false));
                    return 0;
                case CancelOutcome.Requested requested:
                    output.WriteLine(Describe(requested.Generation, replayed: false));
                    return 0;
                case CancelOutcome.AlreadyFinished finished:
                    error.WriteLine($"error: generation {parse.GetValue(id)} is {finished.Generation.Record.Status.ToName()}; only queued or running generations can be canceled");
                    return Refused;
                default:
                    error.WriteLine($"error: no generation has id {parse.GetValue(id)}");
                    return Refused;
            }
        }, ct));
        return command;
    }

    /// <summary>The host of one command: configuration from appsettings, the environment and the unmatched <c>--Section:Key=value</c> tokens.</summary>
    private static HostApplicationBuilder CreateBuilder(ParseResult parse) => Host.CreateApplicationBuilder([.. parse.UnmatchedTokens]);

    /// <summary>Runs <paramref name="use"/> against the service's database (migrated first, as the API and the workers do).</summary>
    private static Task<int> WithServiceAsync(HostApplicationBuilder builder, ParseResult parse, Func<GenerationService, TextWriter, Task<int>> use, CancellationToken ct) =>
        DatabaseCommandHost.RunAsync<GenerationService>(builder, parse, service => use(service, parse.InvocationConfiguration.Output), ct);

    private static string Describe(GenerationDetails details, bool replayed) => JsonSerializer.Serialize(new
    {
        id = details.Record.Id,
        status = details.Record.Status.ToName(),
        prompt = details.Record.Prompt,
        seed = details.Record.Seed,
        queuePosition = details.QueuePosition,
        replayed,
    }, Json);
}
