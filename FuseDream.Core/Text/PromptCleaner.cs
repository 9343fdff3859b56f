using System.Text;

namespace FuseDream.Text;

/// <summary>
/// CLIP's text cleanup before BPE (openai/CLIP <c>clip/simple_tokenizer.py</c>):
/// <c>whitespace_clean(basic_clean(text)).lower()</c>, where <c>basic_clean</c> is
/// <c>ftfy.fix_text</c> then <c>html.unescape</c> twice then <c>strip()</c>.
/// ftfy 6.3.1's <c>fix_text</c> is reproduced with its default configuration, every fix in its
/// order: HTML entities, mojibake (<see cref="Mojibake"/>), C1 controls, Latin ligatures,
/// character width, curly quotes, line breaks, lone surrogates, terminal escapes, control
/// characters, NFC. Python's <c>str.lower</c> (<see cref="PythonCasing"/>) and whitespace classes
/// are reproduced too, since they change the tokens. All of it is checked against cases
/// generated from ftfy and Python by <c>scripts/generate-text-cases.py</c> (docs/clip.md).
/// </summary>
public static class PromptCleaner
{
    /// <summary>The full cleanup: the text the BPE pre-tokeniser sees.</summary>
    public static string Clean(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var s = FixText(text);
        s = HtmlEntities.PythonUnescape(HtmlEntities.PythonUnescape(s));
        s = PythonStrip(s);
        s = CollapseWhitespace(s);
        s = PythonStrip(s);
        return PythonLower(s);
    }

    /// <summary>ftfy.fix_text with its default configuration, as far as described above.</summary>
    public static string FixText(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (IsPlainAscii(text)) return text;
        var unescapeHtml = true;
        var sb = new StringBuilder(text.Length);
        var pos = 0;
        while (pos < text.Length)
        {
            // ftfy fixes line by line; once a line contains '<' it stops unescaping HTML for the rest.
            var lineBreak = text.IndexOf('\n', pos);
            var end = lineBreak < 0 ? text.Length : lineBreak + 1;
            var segment = text[pos..end];
            if (segment.Contains('<')) unescapeHtml = false;
            sb.Append(FixSegment(segment, unescapeHtml));
            pos = end;
        }
        return sb.ToString();
    }

    // Printable ASCII, tab and newline, no '&': none of ftfy's fixes can change it (the common case).
    private static bool IsPlainAscii(string text)
    {
        foreach (var c in text)
            if (c is > '~' or '&' || (c < ' ' && c != '\t' && c != '\n')) return false;
        return true;
    }

    private static string FixSegment(string text, bool unescapeHtml)
    {
        // ftfy applies its fixes until the text stops changing.
        for (var round = 0; round < 16; round++)
        {
            var original = text;
            if (unescapeHtml) text = HtmlEntities.FtfyUnescape(text);
            text = Mojibake.Fix(text);
            text = FixC1Controls(text);
            text = FixLatinLigatures(text);
            text = FixCharacterWidth(text);
            text = UncurlQuotes(text);
            text = FixLineBreaks(text);
            text = FixSurrogates(text);
            text = RemoveTerminalEscapes(text);
            text = RemoveControlChars(text);
            text = CanonicalComposition.Normalize(text);
            if (text == original) break;
        }
        return text;
    }

    private static string Map(string text, Func<char, bool> needs, Action<StringBuilder, char> append)
    {
        var first = -1;
        for (var i = 0; i < text.Length; i++)
            if (needs(text[i])) { first = i; break; }
        if (first < 0) return text;
        var sb = new StringBuilder(text.Length);
        sb.Append(text, 0, first);
        for (var i = first; i < text.Length; i++)
        {
            if (needs(text[i])) append(sb, text[i]);
            else sb.Append(text[i]);
        }
        return sb.ToString();
    }

    // C1 control characters were almost certainly meant as Windows-1252.
    private static string FixC1Controls(string text) =>
        Map(text, c => c is >= '\u0080' and <= '\u009F', (sb, c) => sb.Append(Mojibake.DecodeSloppyCp1252((byte)c)));

    private static readonly Dictionary<char, string> Ligatures = new()
    {
        ['\u0132'] = "IJ", ['\u0133'] = "ij", ['\u0149'] = "\u02BCn", ['\u01F1'] = "DZ", ['\u01F2'] = "Dz", ['\u01F3'] = "dz",
        ['\u01C4'] = "D\u017D", ['\u01C5'] = "D\u017E", ['\u01C6'] = "d\u017E", ['\u01C7'] = "LJ", ['\u01C8'] = "Lj", ['\u01C9'] = "lj",
        ['\u01CA'] = "NJ", ['\u01CB'] = "Nj", ['\u01CC'] = "nj", ['\uFB00'] = "ff", ['\uFB01'] = "fi", ['\uFB02'] = "fl",
        ['\uFB03'] = "ffi", ['\uFB04'] = "ffl", ['\uFB05'] = "\u017Ft", ['\uFB06'] = "st",
    };

    private static string FixLatinLigatures(string text) =>
        Map(text, Ligatures.ContainsKey, (sb, c) => sb.Append(Ligatures[c]));

    private static string FixCharacterWidth(string text) =>
        Map(text, CharacterWidth.Map.ContainsKey, (sb, c) => sb.Append(CharacterWidth.Map[c]));

    private static string UncurlQuotes(string text) =>
        Map(text, c => c is '\u02BC' or >= '\u2018' and <= '\u201F',
            (sb, c) => sb.Append(c is '\u02BC' or <= '\u201B' ? '\'' : '"'));

    private static string FixLineBreaks(string text)
    {
        if (text.IndexOfAny(['\r', '\u2028', '\u2029', '\u0085']) < 0) return text;
        return text.Replace("\r\n", "\n").Replace('\r', '\n').Replace('\u2028', '\n').Replace('\u2029', '\n').Replace('\u0085', '\n');
    }

    // Python strings may hold lone surrogates; ftfy replaces them with U+FFFD (pairs are already joined in .NET).
    private static string FixSurrogates(string text)
    {
        var sb = (StringBuilder?)null;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            var lone = char.IsHighSurrogate(c) ? !(i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
                     : char.IsLowSurrogate(c) && !(i > 0 && char.IsHighSurrogate(text[i - 1]));
            if (lone)
            {
                sb ??= new StringBuilder(text, 0, i, text.Length);
                sb.Append('\uFFFD');
            }
            else sb?.Append(c);
        }
        return sb?.ToString() ?? text;
    }

    // ANSI escapes: ESC '[' digits/semicolons letter.
    private static string RemoveTerminalEscapes(string text)
    {
        var esc = text.IndexOf('\u001B');
        if (esc < 0) return text;
        var sb = new StringBuilder(text.Length);
        var i = 0;
        while (esc >= 0)
        {
            sb.Append(text, i, esc - i);
            var p = esc + 1;
            if (p < text.Length && text[p] == '[')
            {
                p++;
                while (p < text.Length && (char.IsAsciiDigit(text[p]) || text[p] == ';')) p++;
                if (p < text.Length && char.IsAsciiLetter(text[p]))
                {
                    i = p + 1;
                    esc = text.IndexOf('\u001B', i);
                    continue;
                }
            }
            sb.Append('\u001B');
            i = esc + 1;
            esc = text.IndexOf('\u001B', i);
        }
        sb.Append(text, i, text.Length - i);
        return sb.ToString();
    }

    // ftfy's list; whitespace controls, C1 controls, joiners and bidi marks, musical formatting and
    // tag characters (emoji flag sequences) are deliberately kept, as there. All are in the BMP.
    private static bool IsControlToRemove(char c) =>
        c is <= '\u0008' or '\u000B' or >= '\u000E' and <= '\u001F' or '\u007F' or >= '\u206A' and <= '\u206F' or '\uFEFF'
            or >= '\uFFF9' and <= '\uFFFC';

    private static string RemoveControlChars(string text) => text.AsSpan().IndexOfAny(ControlChars) < 0
        ? text
        : string.Concat(text.Where(c => !IsControlToRemove(c)));

    private static readonly System.Buffers.SearchValues<char> ControlChars = System.Buffers.SearchValues.Create(
        Enumerable.Range(0, 0x10000).Select(i => (char)i).Where(IsControlToRemove).ToArray());

    /// <summary>Python's <c>str.isspace</c> (Unicode White_Space plus U+001C–U+001F).</summary>
    internal static bool IsPythonSpace(char c) => char.IsWhiteSpace(c) || c is >= '\u001C' and <= '\u001F';

    private static string PythonStrip(string s)
    {
        var start = 0;
        var end = s.Length;
        while (start < end && IsPythonSpace(s[start])) start++;
        while (end > start && IsPythonSpace(s[end - 1])) end--;
        return start == 0 && end == s.Length ? s : s[start..end];
    }

    /// <summary><c>regex.sub(r'\s+', ' ', s)</c>; the <c>regex</c> module's <c>\s</c> is Unicode White_Space.</summary>
    private static string CollapseWhitespace(string s)
    {
        var sb = new StringBuilder(s.Length);
        var inSpace = false;
        foreach (var c in s)
        {
            if (char.IsWhiteSpace(c))
            {
                if (!inSpace) sb.Append(' ');
                inSpace = true;
            }
            else
            {
                sb.Append(c);
                inSpace = false;
            }
        }
        return sb.ToString();
    }

    /// <summary>Python's <c>str.lower</c> (full mapping, final sigma), from Python's own tables: see <see cref="PythonCasing"/>.</summary>
    internal static string PythonLower(string s) => PythonCasing.Lower(s);
}
