namespace FuseDream.Text;

/// <summary>
/// One prompt tokenised for CLIP: <paramref name="Ids"/> has exactly
/// <see cref="ClipTokenizer.ContextLength"/> entries (zero padded, as <c>clip.tokenize</c>);
/// <paramref name="TokenCount"/> is the untruncated count including start and end tokens;
/// <paramref name="Truncated"/> says whether the ids were cut to fit (the last id is then the end token).
/// </summary>
public sealed record TokenizedText(long[] Ids, int TokenCount, bool Truncated);
