using System.CommandLine;
using FuseDream.Models;

namespace FuseDream.Worker.Commands;

/// <summary><c>models pull &lt;id&gt;...</c>: fetch (or confirm) models; prints each final path on stdout.</summary>
internal static class ModelsPullCommand
{
    public static Command Create(StoreContext context)
    {
        var ids = new Argument<string[]>("id")
        {
            Description = "Model ids to fetch, e.g. clip-vit-b-32 biggan-256 (see `models list`).",
            Arity = ArgumentArity.OneOrMore,
        };
        var allowInsecure = new Option<bool>("--allow-insecure")
        {
            Description = "Also use plain-HTTP sources, and follow redirects to plain HTTP or to hosts outside a source's domain and listed hosts. Every file is still verified.",
        };
        var command = new Command("pull", "Download models into the store (sources in catalog order; resumable; verified, then stored as safetensors).") { ids, allowInsecure };
        command.SetAction(async (parse, ct) =>
        {
            var output = parse.InvocationConfiguration.Output;
            var error = parse.InvocationConfiguration.Error;
            var store = context.Open(parse, allowInsecure: parse.GetValue(allowInsecure));
            if (store is null)
                return ModelsCommand.BadInput;

            var entries = new List<ModelEntry>();
            foreach (var id in parse.GetValue(ids) ?? [])
            {
                if (StoreContext.Entry(store, id, error) is not { } entry)
                    return ModelsCommand.BadInput;
                entries.Add(entry);
            }

            var interactive = ReferenceEquals(error, Console.Error) && !Console.IsErrorRedirected;
            foreach (var entry in entries)
            {
                var progress = new ConsoleDownloadProgress(error, interactive);
                try
                {
                    var path = await store.PullAsync(entry.Id, progress, ct);
                    progress.Finish();
                    output.WriteLine(path);
                }
                catch (ModelPullException e)
                {
                    progress.Finish();
                    error.WriteLine($"error: {e.Message}");
                    return ModelsCommand.Failed;
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested)
                {
                    progress.Finish();
                    error.WriteLine($"{entry.Id}: interrupted; run the same command again to resume where it stopped.");
                    return ModelsCommand.Failed;
                }
            }
            return 0;
        });
        return command;
    }
}
