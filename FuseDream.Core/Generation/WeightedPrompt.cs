using System.Globalization;
using System.Text;
using FuseDream.Text;

namespace FuseDream.Generation;

/// <summary>
/// One prompt of a weighted request. A positive weight pulls the image towards the text, a
/// negative one (a negative prompt) pushes it away; see <see cref="WeightedPrompts"/> for the objective.
/// </summary>
public sealed record WeightedPrompt(string Text, double Weight);

/// <summary>
/// The rules and the arithmetic of weighted prompts, in one place for every front end.
/// The objective of an image x over prompts Tᵢ with weights wᵢ is
/// <c>S(x) = Σᵢ wᵢ · AugCLIP(x, Tᵢ) / Σ_{wⱼ &gt; 0} wⱼ</c>: the weights are divided by the sum
/// of the positive ones, so one prompt of any positive weight gives exactly the single-prompt
/// score, and the positive part is a weighted mean whatever the weights' scale.
/// </summary>
public static class WeightedPrompts
{
    /// <summary>The most prompts a request may give (each is encoded once, but all are scored at every step).</summary>
    public const int MaxPrompts = 8;

    /// <summary>The allowed weights: |w| at most this, and not 0.</summary>
    public const double MaxAbsWeight = 10.0;

    /// <summary>The weight <c>--negative</c> gives a prompt.</summary>
    public const double NegativeWeight = -1.0;

    /// <summary>Every problem with <paramref name="prompts"/> that needs no tokenizing, as (field, reason); fields are <c>Prompts</c> or <c>Prompts[i].Text</c>/<c>Prompts[i].Weight</c>.</summary>
    public static IReadOnlyList<OptionError> Validate(IReadOnlyList<WeightedPrompt>? prompts)
    {
        var errors = new List<OptionError>();
        if (prompts is null || prompts.Count == 0)
        {
            errors.Add(new("Prompts", $"must list 1 to {MaxPrompts} prompts, each {{ text, weight }}"));
            return errors;
        }
        if (prompts.Count > MaxPrompts)
            errors.Add(new("Prompts", $"must list at most {MaxPrompts} prompts (got {prompts.Count})"));
        for (var i = 0; i < prompts.Count; i++)
        {
            if (prompts[i] is not { } prompt)
            {
                errors.Add(new($"Prompts[{i}]", "must be an object { text, weight }"));
                continue;
            }
            if (PromptRules.ShapeProblem(prompt.Text) is { } shape)
                errors.Add(new($"Prompts[{i}].Text", shape));
            if (!double.IsFinite(prompt.Weight) || prompt.Weight == 0 || Math.Abs(prompt.Weight) > MaxAbsWeight)
                errors.Add(new($"Prompts[{i}].Weight", $"must be between -{MaxAbsWeight:G} and {MaxAbsWeight:G} and not 0 (got {prompt.Weight.ToString("G", CultureInfo.InvariantCulture)})"));
        }
        if (errors.Count == 0 && !prompts.Any(p => p.Weight > 0))
            errors.Add(new("Prompts", "needs at least one prompt with a positive weight: negative prompts only push away from what the positive ones describe"));
        return errors;
    }

    /// <summary>Throws <see cref="ArgumentException"/> listing every problem.</summary>
    public static void EnsureValid(IReadOnlyList<WeightedPrompt>? prompts)
    {
        var errors = Validate(prompts);
        if (errors.Count > 0)
            throw new ArgumentException("Invalid prompts: " + string.Join("; ", errors.Select(e => $"{e.Field}: {e.Reason}")));
    }

    /// <summary>The objective's factors: wᵢ / Σ_{wⱼ &gt; 0} wⱼ.</summary>
    public static double[] NormalisedWeights(IReadOnlyList<WeightedPrompt> prompts)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        var positive = prompts.Where(p => p.Weight > 0).Sum(p => p.Weight);
        if (!(positive > 0)) throw new ArgumentException("at least one prompt needs a positive weight", nameof(prompts));
        return [.. prompts.Select(p => p.Weight / positive)];
    }

    /// <summary>Σ factorᵢ · scoreᵢ: the weighted score from each prompt's score.</summary>
    public static double Combine(IReadOnlyList<WeightedPrompt> prompts, IReadOnlyList<double> scores)
    {
        ArgumentNullException.ThrowIfNull(scores);
        var factors = NormalisedWeights(prompts);
        if (scores.Count != factors.Length) throw new ArgumentException($"expected {factors.Length} scores, got {scores.Count}", nameof(scores));
        var sum = 0.0;
        for (var i = 0; i < factors.Length; i++) sum += factors[i] * scores[i];
        return sum;
    }

    /// <summary>
    /// The prompts in AUTOMATIC1111's attention syntax: <c>(text:weight)</c> joined by <c>", "</c>,
    /// negative weights as they are (<c>(blurry:-0.5)</c>); parentheses and backslashes in a text
    /// are escaped with a backslash, as A1111 reads them.
    /// </summary>
    public static string Format(IReadOnlyList<WeightedPrompt> prompts)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        return string.Join(", ", prompts.Select(p => $"({Escape(p.Text)}:{p.Weight.ToString("G", CultureInfo.InvariantCulture)})"));
    }

    /// <summary>
    /// Reads the command line's <c>text:weight</c>: the part after the last colon is the weight
    /// when it is a number; otherwise the whole argument is the text, at weight 1.
    /// </summary>
    public static WeightedPrompt Parse(string argument)
    {
        ArgumentNullException.ThrowIfNull(argument);
        var colon = argument.LastIndexOf(':');
        if (colon > 0 && double.TryParse(argument[(colon + 1)..].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var weight))
            return new WeightedPrompt(argument[..colon].Trim(), weight);
        return new WeightedPrompt(argument.Trim(), 1.0);
    }

    private static string Escape(string text)
    {
        var escaped = new StringBuilder(text.Length);
        foreach (var c in text)
        {
            if (c is '(' or ')' or '\\' or '[' or ']') escaped.Append('\\');
            escaped.Append(c);
        }
        return escaped.ToString();
    }
}
