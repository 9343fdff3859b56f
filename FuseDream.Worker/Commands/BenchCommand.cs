using System.CommandLine;

namespace FuseDream.Worker.Commands;

/// <summary><c>bench</c>: benchmarks that print their figures (speed and memory targets live here, not in tests).</summary>
public static class BenchCommand
{
    public static Command Create()
    {
        var command = new Command("bench", "Measure speed and memory; prints a table.");
        // One subcommand per benchmark; each lives in its own file under Commands/.
        command.Subcommands.Add(TokenizerBenchmark.Create());
        command.Subcommands.Add(ClipBenchmark.Create());
        command.Subcommands.Add(BigGanBenchmarkCommand.Create());
        command.Subcommands.Add(PipelineBenchmark.Create());
        command.Subcommands.Add(FusionBenchmark.Create());
        command.Subcommands.Add(MemoryBenchmark.Create());
        command.Subcommands.Add(QualityBenchmark.Create());
        command.Subcommands.Add(PrecisionBenchmark.Create());
        return command;
    }
}
