namespace FuseDream.Text;

/// <summary>A prompt needs more CLIP tokens than the text encoder's context holds.</summary>
public sealed class PromptTooLongException : ArgumentException
{
    public int TokenCount { get; }
    public int Limit { get; }

    public PromptTooLongException(int tokenCount, int limit, string? paramName = null)
        : base($"The prompt is {tokenCount} CLIP tokens long (start and end tokens included); the limit is {limit}. " +
               $"Shorten the prompt by at least {tokenCount - limit} token(s), or tokenize with truncation enabled to cut it to {limit}.",
               paramName)
    {
        TokenCount = tokenCount;
        Limit = limit;
    }
}
