using System.Globalization;
using System.Text;

namespace FuseDream.Text;

/// <summary>
/// CLIP's pre-tokenisation regex, written out over code points:
/// <c>&lt;\|startoftext\|&gt;|&lt;\|endoftext\|&gt;|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+</c>
/// with <c>regex.IGNORECASE</c>, applied by <c>findall</c> (unmatched characters — whitespace — are skipped).
/// Hand-written because .NET's <c>Regex</c> classifies UTF-16 code units, not code points, so letters
/// outside the BMP would split differently.
/// </summary>
internal static class ByteLevelPreTokenizer
{
    private static readonly string[] Specials = ["<|startoftext|>", "<|endoftext|>"];

    public static void Split(string text, List<string> pieces)
    {
        var i = 0;
        while (i < text.Length)
        {
            var length = MatchAt(text, i);
            if (length == 0)
            {
                i += char.IsSurrogatePair(text, i) ? 2 : 1;
                continue;
            }
            pieces.Add(text.Substring(i, length));
            i += length;
        }
    }

    // Length of the match starting at i (leftmost alternative wins), 0 when only whitespace is there.
    private static int MatchAt(string s, int i)
    {
        foreach (var special in Specials)
            if (s.AsSpan(i).StartsWith(special, StringComparison.Ordinal))
                return special.Length;

        if (s[i] == '\'' && i + 1 < s.Length)
        {
            var c1 = s[i + 1];
            if (c1 is 's' or 'S' or '\u017F' or 't' or 'T' or 'm' or 'M' or 'd' or 'D') return 2;
            if (i + 2 < s.Length)
            {
                var c2 = char.ToLowerInvariant(s[i + 2]);
                var lc1 = char.ToLowerInvariant(c1);
                if ((lc1 == 'r' && c2 == 'e') || (lc1 == 'v' && c2 == 'e') || (lc1 == 'l' && c2 == 'l')) return 3;
            }
        }

        var rune = Rune.GetRuneAt(s, i);
        var kind = Classify(rune);
        if (kind == CharKind.Letter)
        {
            var j = i + rune.Utf16SequenceLength;
            while (j < s.Length)
            {
                var r = Rune.GetRuneAt(s, j);
                if (Classify(r) != CharKind.Letter) break;
                j += r.Utf16SequenceLength;
            }
            return j - i;
        }
        if (kind == CharKind.Number) return rune.Utf16SequenceLength;
        if (kind == CharKind.Space) return 0;
        {
            var j = i + rune.Utf16SequenceLength;
            while (j < s.Length)
            {
                var r = Rune.GetRuneAt(s, j);
                if (Classify(r) != CharKind.Other) break;
                j += r.Utf16SequenceLength;
            }
            return j - i;
        }
    }

    private enum CharKind { Letter, Number, Space, Other }

    private static CharKind Classify(Rune r)
    {
        if (r.IsAscii)
        {
            var c = (char)r.Value;
            if (char.IsAsciiLetter(c)) return CharKind.Letter;
            if (char.IsAsciiDigit(c)) return CharKind.Number;
            return c is ' ' or '\t' or '\n' or '\v' or '\f' or '\r' ? CharKind.Space : CharKind.Other;
        }
        if (Rune.IsWhiteSpace(r)) return CharKind.Space;
        return Rune.GetUnicodeCategory(r) switch
        {
            UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
                or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter => CharKind.Letter,
            UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber => CharKind.Number,
            _ => CharKind.Other,
        };
    }
}
