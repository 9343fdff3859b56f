using FuseDream.Text;

namespace FuseDream.Text;

/// <summary>Counts the CLIP tokens of a prompt, start and end tokens included (CLIP's context is 77).</summary>
public interface IPromptTokenCounter
{
    /// <summary>CLIP's context length: the most tokens a prompt may have, start and end included.</summary>
    public const int MaxTokens = ClipTokenizer.ContextLength;

    int CountTokens(string prompt);
}

/// <summary>The count CLIP itself will see: <see cref="ClipTokenizer.Default"/> (BPE, start and end included).</summary>
internal sealed class ClipPromptTokenCounter : IPromptTokenCounter
{
    public int CountTokens(string prompt) => ClipTokenizer.Default.CountTokens(prompt);
}
