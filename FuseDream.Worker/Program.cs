using System.CommandLine;
using FuseDream.Worker.Commands;

namespace FuseDream.Worker;

/// <summary>The GPU process: <c>serve</c> runs the Hangfire server; other verbs are tools (<c>keys</c> manages the API keys).</summary>
public static class Program
{
    public static Task<int> Main(string[] args)
    {
        var root = new RootCommand("FuseDream worker: runs generation jobs and the command-line tools.")
        {
            ServeCommand.Create(),
            BenchCommand.Create(),
            ModelsCommand.Create(),
            GenerateCommand.Create(),
            QueueCommands.CreateSubmit(),
            QueueCommands.CreateCancel(),
            KeysCommand.Create(),
        };
        return root.Parse(args).InvokeAsync();
    }
}
