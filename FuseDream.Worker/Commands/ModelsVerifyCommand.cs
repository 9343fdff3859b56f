using System.CommandLine;
using FuseDream.Models;

namespace FuseDream.Worker.Commands;

/// <summary><c>models verify [&lt;id&gt;...]</c>: re-checks files (all present ones when no id is given).</summary>
internal static class ModelsVerifyCommand
{
    public static Command Create(StoreContext context)
    {
        var ids = new Argument<string[]>("id")
        {
            Description = "Model ids to check, or paths of files to identify (any supported layout); none checks every model present in the store.",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var command = new Command("verify", "Check models against their published SHA-256, the SHA-256 recorded when placed, or their tensor manifest.") { ids };
        command.SetAction(async (parse, ct) =>
        {
            var output = parse.InvocationConfiguration.Output;
            var error = parse.InvocationConfiguration.Error;
            var store = context.Open(parse);
            if (store is null)
                return ModelsCommand.BadInput;

            var requested = parse.GetValue(ids) ?? [];
            List<string> targets;
            if (requested.Length == 0)
            {
                targets = store.Catalog.Models.Where(m => store.TryLocate(m.Id) is not null).Select(m => m.Id).ToList();
                if (targets.Count == 0)
                {
                    output.WriteLine($"No models in {store.Directory}. Fetch one with `FuseDream.Worker models pull <id>` (see `models list`).");
                    return 0;
                }
            }
            else
            {
                targets = [];
                foreach (var id in requested)
                {
                    if (!store.Catalog.Contains(id) && File.Exists(id))
                    {
                        targets.Add(id);
                        continue;
                    }
                    if (StoreContext.Entry(store, id, error) is not { } entry)
                        return ModelsCommand.BadInput;
                    targets.Add(entry.Id);
                }
            }

            var failed = 0;
            foreach (var id in targets)
            {
                if (!store.Catalog.Contains(id))
                {
                    if (!await IdentifyAsync(store, id, output, ct))
                        failed++;
                    continue;
                }
                var result = await store.VerifyAsync(id, ct);
                output.WriteLine($"{id}: {(result.IsValid ? "ok" : "FAILED (" + result.Status + ")")} - {result.Message}");
                if (!result.IsValid)
                    failed++;
            }
            return failed == 0 ? 0 : ModelsCommand.Failed;
        });
        return command;
    }

    /// <summary>Says what a file outside the store is: its layout and which catalog model it passes as. Writes nothing.</summary>
    private static async Task<bool> IdentifyAsync(ModelStore store, string file, TextWriter output, CancellationToken ct)
    {
        var results = await store.IdentifyFileAsync(file, ct);
        var matches = results.Where(r => r.IsValid).ToList();
        if (matches.Count > 0)
        {
            foreach (var match in matches)
                output.WriteLine($"{file}: ok - passes as '{match.ModelId}' ({match.Method}): {match.Message}. " +
                                 $"To use it, copy it to {store.PathFor(match.ModelId)} and run `FuseDream.Worker models verify {match.ModelId}`.");
            return true;
        }
        var closest = results.FirstOrDefault(r => r.Status == VerifyStatus.ManifestMismatch && !r.Message.StartsWith("it is ", StringComparison.Ordinal))
                      ?? results.FirstOrDefault();
        output.WriteLine($"{file}: FAILED - matches no model of the catalog" + (closest is null ? "" : $"; as '{closest.ModelId}': {closest.Message}"));
        return false;
    }
}
