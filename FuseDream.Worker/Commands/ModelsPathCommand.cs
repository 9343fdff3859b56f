using System.CommandLine;

namespace FuseDream.Worker.Commands;

/// <summary><c>models path &lt;id&gt;</c>: where the model's file is (or must be placed). Exit 1 when it is not there yet.</summary>
internal static class ModelsPathCommand
{
    public static Command Create(StoreContext context)
    {
        var id = new Argument<string>("id") { Description = "Model id, e.g. biggan-256 (see `models list`)." };
        var command = new Command("path", "Print the path of a model's file in the store (where to place it by hand when it is missing).") { id };
        command.SetAction(parse =>
        {
            var output = parse.InvocationConfiguration.Output;
            var error = parse.InvocationConfiguration.Error;
            var store = context.Open(parse);
            if (store is null)
                return ModelsCommand.BadInput;
            var entry = StoreContext.Entry(store, parse.GetValue(id)!, error);
            if (entry is null)
                return ModelsCommand.BadInput;
            var path = store.PathFor(entry.Id);
            output.WriteLine(path);
            if (store.TryLocate(entry.Id) is not null)
                return 0;
            error.WriteLine($"{entry.Id} is not there yet: run `FuseDream.Worker models pull {entry.Id}` or place the file at that path.");
            return ModelsCommand.Failed;
        });
        return command;
    }
}
