using System.CommandLine;
using System.Diagnostics;
using FuseDream.Text;

namespace FuseDream.Worker.Commands;

/// <summary>
/// <c>bench tokenizer</c>: tokenises N varied prompts (default 10,000; target under 1 s) and
/// prints load, cold-cache, warm-cache and parallel timings.
/// </summary>
public static class TokenizerBenchmark
{
    private static readonly string[] Subjects =
    [
        "a cat", "an astronaut", "a red fox", "the Eiffel Tower", "a bowl of ramen", "two robots", "a lighthouse",
        "an ancient castle", "a cyberpunk city", "a Shiba Inu", "a café in Paris", "東京タワー", "a dragon",
        "a vintage car", "a waterfall", "Zürich old town", "a ballerina", "an owl", "a sailboat", "a mushroom forest",
    ];
    private static readonly string[] Styles =
    [
        "oil painting", "watercolor", "photo", "3D render", "pixel art", "ukiyo-e print", "charcoal sketch",
        "studio photograph", "digital art", "stained glass", "low-poly model", "Art Nouveau poster",
    ];
    private static readonly string[] Details =
    [
        "at sunset", "in the rain", "under the stars", "with dramatic lighting", "in 8k resolution",
        "trending on artstation", "by Studio Ghibli", "highly detailed", "isn't it lovely?", "— “award winning”",
        "with neon signs & reflections", "on a foggy morning", "🌸 spring 2024 🌸", "(wide angle; 35mm)",
    ];

    public static Command Create()
    {
        var count = new Option<int>("--count") { Description = "How many prompts to tokenise.", DefaultValueFactory = _ => 10_000 };
        var seed = new Option<int>("--seed") { Description = "Seed of the prompt generator.", DefaultValueFactory = _ => 1 };
        var command = new Command("tokenizer", "Tokenise varied prompts with the CLIP tokenizer and print the time (target: 10,000 in under 1 s).")
        {
            count,
            seed,
        };
        command.SetAction(parse =>
        {
            var n = parse.GetValue(count);
            if (n <= 0)
            {
                Console.Error.WriteLine($"--count must be positive; got {n}.");
                return 2;
            }
            Run(n, parse.GetValue(seed));
            return 0;
        });
        return command;
    }

    /// <summary>Deterministic, varied prompts: subject, style, zero to three details, some capitals and HTML.</summary>
    public static List<string> Prompts(int n, int seed)
    {
        var random = new Random(seed);
        var prompts = new List<string>(n);
        for (var i = 0; i < n; i++)
        {
            var parts = new List<string> { $"{Styles[random.Next(Styles.Length)]} of {Subjects[random.Next(Subjects.Length)]}" };
            var details = random.Next(4);
            for (var d = 0; d < details; d++) parts.Add(Details[random.Next(Details.Length)]);
            var prompt = string.Join(", ", parts) + $" #{random.Next(1000)}";
            if (random.Next(5) == 0) prompt = prompt.ToUpperInvariant();
            if (random.Next(10) == 0) prompt = prompt.Replace("&", "&amp;", StringComparison.Ordinal);
            prompts.Add(prompt);
        }
        return prompts;
    }

    private static void Run(int n, int seed)
    {
        var prompts = Prompts(n, seed);
        var watch = Stopwatch.StartNew();
        var tokenizer = ClipTokenizer.LoadEmbedded();
        var load = watch.Elapsed;

        var tokens = 0L;
        watch.Restart();
        foreach (var p in prompts) tokens += tokenizer.Tokenize(p, truncate: true).TokenCount;
        var cold = watch.Elapsed;

        watch.Restart();
        foreach (var p in prompts) tokenizer.Tokenize(p, truncate: true);
        var warm = watch.Elapsed;

        watch.Restart();
        foreach (var p in prompts) PromptCleaner.Clean(p);
        var cleanup = watch.Elapsed;

        watch.Restart();
        Parallel.ForEach(prompts, p => tokenizer.Tokenize(p, truncate: true));
        var parallel = watch.Elapsed;

        Console.WriteLine($"CLIP tokenizer: {n:N0} prompts, {tokens:N0} tokens (mean {(double)tokens / n:F1}), seed {seed}");
        Console.WriteLine($"  {"vocabulary load",-28} {load.TotalMilliseconds,10:F1} ms");
        Console.WriteLine($"  {"tokenise, empty BPE cache",-28} {cold.TotalMilliseconds,10:F1} ms   {n / cold.TotalSeconds,12:N0} prompts/s");
        Console.WriteLine($"  {"tokenise, warm cache",-28} {warm.TotalMilliseconds,10:F1} ms   {n / warm.TotalSeconds,12:N0} prompts/s");
        Console.WriteLine($"  {"  of which text cleanup",-28} {cleanup.TotalMilliseconds,10:F1} ms");
        Console.WriteLine($"  {$"tokenise, {Environment.ProcessorCount} threads",-28} {parallel.TotalMilliseconds,10:F1} ms   {n / parallel.TotalSeconds,12:N0} prompts/s");
        Console.WriteLine($"  target: {n:N0} prompts < 1000 ms (scaled from 10,000): {(cold.TotalMilliseconds < 1000.0 * n / 10_000 ? "met" : "NOT met")}");
    }
}
