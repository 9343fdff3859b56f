using System.Text.RegularExpressions;

namespace FuseDream.Jobs;

/// <summary>Counts the CLIP tokens of a prompt, start and end tokens included (CLIP's context is 77).</summary>
public interface IPromptTokenCounter
{
    /// <summary>CLIP's context length: the most tokens a prompt may have, start and end included.</summary>
    public const int MaxTokens = 77;

    int CountTokens(string prompt);
}

/// <summary>
/// A lower bound of the CLIP token count: CLIP's own pre-tokenizer pattern (openai/CLIP
/// <c>simple_tokenizer.py</c>) over the lower-cased, whitespace-collapsed text, plus start and
/// end. BPE turns each pre-token into at least one token, so a prompt this rejects is too long
/// for CLIP as well; the BPE count (<c>FuseDream.Text.ClipTokenizer</c>) replaces it when present.
/// </summary>
public sealed partial class ClipPreTokenCounter : IPromptTokenCounter
{
    public int CountTokens(string prompt)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        var text = Whitespace().Replace(prompt, " ").Trim().ToLowerInvariant();
        return PreToken().Count(text) + 2;
    }

    [GeneratedRegex(@"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+", RegexOptions.IgnoreCase)]
    private static partial Regex PreToken();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
