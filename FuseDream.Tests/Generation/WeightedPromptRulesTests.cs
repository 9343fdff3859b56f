using FuseDream.Generation;
using FuseDream.Worker.Commands;
using static TorchSharp.torch;

namespace FuseDream.Tests.Generation;

/// <summary>The rules of weighted prompts (validation naming the field), their A1111 text, the command line's syntax, and their provenance.</summary>
public class WeightedPromptRulesTests
{
    public static TheoryData<WeightedPrompt[], string, string> Invalid => new()
    {
        { [], "Prompts", "must list 1 to 8" },
        { [.. Enumerable.Range(0, 9).Select(i => new WeightedPrompt($"thing {i}", 1))], "Prompts", "at most 8 prompts (got 9)" },
        { [new("a dog", -1), new("a cat", -2)], "Prompts", "at least one prompt with a positive weight" },
        { [new("a dog", 1), new("a cat", 0)], "Prompts[1].Weight", "not 0 (got 0)" },
        { [new("a dog", 10.5)], "Prompts[0].Weight", "between -10 and 10 and not 0 (got 10.5)" },
        { [new("a dog", 1), new("a cat", -11)], "Prompts[1].Weight", "(got -11)" },
        { [new("a dog", double.NaN)], "Prompts[0].Weight", "between -10 and 10" },
        { [new("a dog", 1), new("  ", -1)], "Prompts[1].Text", "must not be empty" },
        { [new(new string('a', 2001), 1)], "Prompts[0].Text", "2001 characters" },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void InvalidPrompts_AreRefused_NamingTheFieldAndTheReason(WeightedPrompt[] prompts, string field, string reason)
    {
        var errors = WeightedPrompts.Validate(prompts);
        Assert.Contains(errors, e => e.Field == field && e.Reason.Contains(reason, StringComparison.Ordinal));
        var options = new GenerationOptions { Prompts = new(prompts) };
        Assert.Contains(options.Validate(), e => e.Field == field);
        Assert.Throws<ArgumentException>(() => options.EnsureValid());
    }

    [Fact]
    public void ValidPrompts_PassAtTheLimits()
    {
        Assert.Empty(WeightedPrompts.Validate([.. Enumerable.Range(0, 8).Select(i => new WeightedPrompt($"thing {i}", i == 0 ? 10 : -10))]));
        Assert.Empty(new GenerationOptions { Prompts = new([new("a dog", 0.01), new("a cat", -0.5)]) }.Validate());
    }

    [Fact]
    public void Format_WritesA1111AttentionSyntax_EscapingParentheses()
    {
        Assert.Equal("(a red bus:1.5), (blurry:-0.5), (a cat \\(tabby\\) \\\\ ok:1)",
            WeightedPrompts.Format([new("a red bus", 1.5), new("blurry", -0.5), new("a cat (tabby) \\ ok", 1)]));
    }

    [Theory]
    [InlineData("a red bus:1.5", "a red bus", 1.5)]
    [InlineData("blurry:-0.5", "blurry", -0.5)]
    [InlineData("a corgi", "a corgi", 1.0)]
    [InlineData("time: 5 o'clock", "time: 5 o'clock", 1.0)]
    [InlineData("ratio 16:9", "ratio 16", 9.0)]
    public void Parse_ReadsTextColonWeight_TheWeightAfterTheLastColon(string argument, string text, double weight) =>
        Assert.Equal(new WeightedPrompt(text, weight), WeightedPrompts.Parse(argument));

    [Fact]
    public void CommandLine_OnePlainPromptRunsUnweighted_ElseTheWeightedListInOrder()
    {
        Assert.Equal(("a corgi", null), GenerateCommand.Prompts("a corgi", [], []));
        Assert.Equal(("a corgi", null), GenerateCommand.Prompts(null, ["a corgi"], []));
        var (text, weighted) = GenerateCommand.Prompts(null, ["a corgi:2", "a beach"], ["blurry"]);
        Assert.Equal([new("a corgi", 2), new("a beach", 1), new("blurry", -1)], weighted!);
        Assert.Equal("(a corgi:2), (a beach:1), (blurry:-1)", text);
        var error = Assert.Throws<ArgumentException>(() => GenerateCommand.Prompts(null, ["a corgi:-1"], []));
        Assert.Contains("Prompts: needs at least one prompt with a positive weight", error.Message);
        Assert.Throws<ArgumentException>(() => GenerateCommand.Prompts(null, [], []));
    }

    [Fact]
    public void Provenance_OfWeightedPrompts_RoundTrips_ExactInJson_AndA1111InParameters()
    {
        var prompts = new ValueList<WeightedPrompt>([new("a red bus", 1.25), new("a blurry (grainy) photo", -0.5)]);
        var options = new GenerationOptions { Model = GenerationOptions.Models.BigGan256, Prompts = prompts };
        var provenance = new ImageProvenance
        {
            Prompt = WeightedPrompts.Format(prompts),
            Seed = 42,
            Options = options,
            AugClipScore = 0.3,
            PromptScores = [0.31, 0.02],
        };
        using var scope = NewDisposeScope();
        var png = ProvenancePng.Encode(zeros(1, 3, 8, 8), provenance);
        var read = ProvenancePng.Read(png);

        Assert.Equal(options, read.Provenance!.Options);
        Assert.Equal(prompts, read.Provenance.Options.Prompts);
        Assert.Equal([0.31, 0.02], read.Provenance.PromptScores!);
        var (promptLine, values) = GenerationParameters.Parse(read.Parameters!);
        Assert.Equal("(a red bus:1.25), (a blurry \\(grainy\\) photo:-0.5)", promptLine);
        Assert.Equal("42", values["Seed"]);

        // Options without prompts keep the one-prompt form: no "prompts" in the JSON.
        var plain = ProvenancePng.Read(ProvenancePng.Encode(zeros(1, 3, 8, 8), provenance with { Prompt = "a red bus", Options = options with { Prompts = null }, PromptScores = null }));
        Assert.StartsWith("a red bus\n", plain.Parameters);
        Assert.Null(plain.Provenance!.Options.Prompts);
    }

    [Fact]
    public void ValueList_ComparesByElements()
    {
        Assert.Equal(new ValueList<WeightedPrompt>([new("a", 1)]), new ValueList<WeightedPrompt>([new("a", 1)]));
        Assert.NotEqual(new ValueList<WeightedPrompt>([new("a", 1)]), new ValueList<WeightedPrompt>([new("a", 2)]));
        Assert.Equal(new GenerationOptions { Prompts = new([new("a", 1)]) }, new GenerationOptions { Prompts = new([new("a", 1)]) });
    }
}
