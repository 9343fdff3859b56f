using System.CommandLine;
using FuseDream.Worker.Commands;

namespace FuseDream.Worker;

/// <summary>The GPU process: <c>serve</c> runs the Hangfire server; other verbs are tools.</summary>
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
        };
        return root.Parse(args).InvokeAsync();
    }
}
