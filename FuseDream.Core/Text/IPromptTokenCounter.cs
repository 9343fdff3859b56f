namespace FuseDream.Text;

/// <summary>Counts the CLIP tokens of a prompt, start and end tokens included (CLIP's context is 77).</summary>
public interface IPromptTokenCounter
{
    /// <summary>CLIP's context length: the most tokens a prompt may have, start and end included.</summary>
    public const int MaxTokens = ClipTokenizer.ContextLength;

    int CountTokens(string prompt);
}

/// <summary>The count CLIP itself will see: <see cref="ClipTokenizer.Default"/> (BPE, start and end included).</summary>
public sealed class ClipPromptTokenCounter : IPromptTokenCounter
{
    public int CountTokens(string prompt) => ClipTokenizer.Default.CountTokens(prompt);
}

/// <summary>The one rule for what a prompt may be, with the reasons every front end shows.</summary>
public static class PromptRules
{
    /// <summary>Longer prompts are refused before tokenizing: 77 CLIP tokens never need this many characters.</summary>
    public const int MaxCharacters = 2000;

    /// <summary>Why <paramref name="prompt"/> cannot be generated (a reason to put after the field name), or null when it can.</summary>
    public static string? Problem(this IPromptTokenCounter counter, string? prompt)
    {
        ArgumentNullException.ThrowIfNull(counter);
        return ShapeProblem(prompt) ?? TokenProblem(counter, prompt!);
    }

    /// <summary>The checks that need no tokenizing (present, at most <see cref="MaxCharacters"/>): a reason, or null.</summary>
    public static string? ShapeProblem(string? prompt)
    {
        if (string.IsNullOrWhiteSpace(prompt))
            return "is required and must not be empty";
        if (prompt.Length > MaxCharacters)
            return $"is {prompt.Length} characters long; CLIP reads at most {IPromptTokenCounter.MaxTokens} tokens (start and end included), far fewer than {MaxCharacters} characters: shorten it";
        return null;
    }

    /// <summary>The token count's check, for a prompt that passed <see cref="ShapeProblem"/>: a reason, or null.</summary>
    public static string? TokenProblem(this IPromptTokenCounter counter, string prompt)
    {
        ArgumentNullException.ThrowIfNull(counter);
        var count = counter.CountTokens(prompt);
        return count > IPromptTokenCounter.MaxTokens
            ? $"is {count} CLIP tokens long (start and end tokens included); the limit is {IPromptTokenCounter.MaxTokens}: shorten it"
            : null;
    }
}
