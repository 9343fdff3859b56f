using System.Globalization;
using System.Reflection;
using System.Text;

namespace FuseDream.Text;

/// <summary>
/// HTML character references decoded the way CLIP's text cleanup sees them: Python's
/// <c>html.unescape</c> (which CLIP calls twice) and ftfy's stricter <c>unescape_html</c>
/// (entities with a semicolon only). .NET's <c>WebUtility.HtmlDecode</c> differs (it needs the
/// semicolon and knows fewer names), so both are written out from the WHATWG table.
/// </summary>
internal static class HtmlEntities
{
    private const string ResourceName = "FuseDream.Text.html5-entities.tsv";

    // Python html._invalid_charrefs: numeric references the HTML spec remaps (C1 range read as windows-1252).
    private static readonly Dictionary<int, string> InvalidCharRefs = new()
    {
        [0x00] = "\uFFFD", [0x0D] = "\r", [0x80] = "\u20AC", [0x81] = "\x81", [0x82] = "\u201A", [0x83] = "\u0192",
        [0x84] = "\u201E", [0x85] = "\u2026", [0x86] = "\u2020", [0x87] = "\u2021", [0x88] = "\u02C6", [0x89] = "\u2030",
        [0x8A] = "\u0160", [0x8B] = "\u2039", [0x8C] = "\u0152", [0x8D] = "\x8D", [0x8E] = "\u017D", [0x8F] = "\x8F",
        [0x90] = "\x90", [0x91] = "\u2018", [0x92] = "\u2019", [0x93] = "\u201C", [0x94] = "\u201D", [0x95] = "\u2022",
        [0x96] = "\u2013", [0x97] = "\u2014", [0x98] = "\u02DC", [0x99] = "\u2122", [0x9A] = "\u0161", [0x9B] = "\u203A",
        [0x9C] = "\u0153", [0x9D] = "\x9D", [0x9E] = "\u017E", [0x9F] = "\u0178",
    };

    /// <summary>Named references, keyed without the leading '&amp;' (e.g. "amp;" and legacy "amp").</summary>
    private static readonly Dictionary<string, string> Named = LoadTable();

    /// <summary>ftfy's map: "&amp;name;" plus upper-case spellings of lower-case names that are not entities themselves.</summary>
    private static readonly Dictionary<string, string> FtfyNamed = BuildFtfyTable();

    /// <summary>Python's <c>html.unescape</c>, exactly (numeric, named with or without ';', longest legacy prefix).</summary>
    public static string PythonUnescape(string s) => ReplaceReferences(s, TryReplaceCharRef);

    /// <summary>
    /// Copies <paramref name="s"/>, letting <paramref name="tryReplace"/> rewrite each reference
    /// that starts at an '&amp;': it appends the replacement and returns how many characters it
    /// consumed, or 0 to keep the '&amp;' as it is.
    /// </summary>
    private static string ReplaceReferences(string s, Func<string, int, StringBuilder, int> tryReplace)
    {
        if (!s.Contains('&')) return s;
        var sb = new StringBuilder(s.Length);
        var i = 0;
        while (i < s.Length)
        {
            var amp = s.IndexOf('&', i);
            if (amp < 0) { sb.Append(s, i, s.Length - i); break; }
            sb.Append(s, i, amp - i);
            var consumed = tryReplace(s, amp, sb);
            if (consumed == 0) { sb.Append('&'); i = amp + 1; }
            else i = amp + consumed;
        }
        return sb.ToString();
    }

    // Matches &(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?) at s[amp]; appends the replacement and
    // returns the characters consumed, or 0 when nothing matches (the '&' stays as it is).
    private static int TryReplaceCharRef(string s, int amp, StringBuilder sb)
    {
        var p = amp + 1;
        if (p >= s.Length) return 0;
        if (s[p] == '#')
        {
            var hex = p + 1 < s.Length && (s[p + 1] == 'x' || s[p + 1] == 'X');
            var start = hex ? p + 2 : p + 1;
            var end = start;
            while (end < s.Length && (hex ? char.IsAsciiHexDigit(s[end]) : char.IsAsciiDigit(s[end]))) end++;
            if (end == start)
                return 0; // "&#" not followed by digits: regex's third branch cannot start with '#'
            var digits = s.AsSpan(start, end - start);
            if (end < s.Length && s[end] == ';') end++;
            sb.Append(NumericReference(digits, hex));
            return end - amp;
        }
        var nameStart = p;
        var q = p;
        var runes = 0;
        while (q < s.Length && runes < 32)
        {
            var c = s[q];
            if (c is '\t' or '\n' or '\f' or ' ' or '<' or '&' or '#' or ';') break;
            q += char.IsHighSurrogate(c) && q + 1 < s.Length && char.IsLowSurrogate(s[q + 1]) ? 2 : 1;
            runes++;
        }
        if (q == nameStart) return 0;
        if (q < s.Length && s[q] == ';') q++;
        var name = s.Substring(nameStart, q - nameStart);
        if (Named.TryGetValue(name, out var value))
        {
            sb.Append(value);
            return q - amp;
        }
        for (var x = name.Length - 1; x > 1; x--)
        {
            if (Named.TryGetValue(name[..x], out var prefixValue))
            {
                sb.Append(prefixValue).Append(name, x, name.Length - x);
                return q - amp;
            }
        }
        sb.Append('&').Append(name);
        return q - amp;
    }

    private static string NumericReference(ReadOnlySpan<char> digits, bool hex)
    {
        // Python's int() never overflows; anything above 0x10FFFF is replaced anyway, so clamp.
        long num = 0;
        foreach (var c in digits)
        {
            num = num * (hex ? 16 : 10) + (hex ? Convert.ToInt32(c.ToString(), 16) : c - '0');
            if (num > 0x10FFFF) { num = 0x110000; }
        }
        if (InvalidCharRefs.TryGetValue((int)num, out var remapped)) return remapped;
        if (num is >= 0xD800 and <= 0xDFFF || num > 0x10FFFF) return "\uFFFD";
        if (IsInvalidCodePoint((int)num)) return "";
        return char.ConvertFromUtf32((int)num);
    }

    private static bool IsInvalidCodePoint(int cp) =>
        cp is >= 0x1 and <= 0x8 or 0xB or >= 0xE and <= 0x1F or >= 0x7F and <= 0x9F or >= 0xFDD0 and <= 0xFDEF
        || (cp & 0xFFFE) == 0xFFFE;

    /// <summary>ftfy's <c>unescape_html</c>: only "&amp;name;" / "&amp;#…;" forms, one pass.</summary>
    public static string FtfyUnescape(string s) => ReplaceReferences(s, TryReplaceFtfyRef);

    private static int TryReplaceFtfyRef(string s, int amp, StringBuilder sb)
    {
        // &#?[0-9A-Za-z]{1,24};
        var p = amp + 1;
        if (p < s.Length && s[p] == '#') p++;
        var start = p;
        while (p < s.Length && p - start < 24 && char.IsAsciiLetterOrDigit(s[p])) p++;
        if (p <= start || p >= s.Length || s[p] != ';') return 0;
        sb.Append(FtfyReplacement(s.Substring(amp, p + 1 - amp)));
        return p + 1 - amp;
    }

    private static string FtfyReplacement(string entity)
    {
        if (FtfyNamed.TryGetValue(entity, out var value)) return value;
        if (entity.StartsWith("&#", StringComparison.Ordinal))
        {
            var unescaped = PythonUnescape(entity);
            return unescaped.Contains(';') ? entity : unescaped;
        }
        return entity;
    }

    private static Dictionary<string, string> LoadTable()
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"Embedded resource {ResourceName} is missing from {Assembly.GetExecutingAssembly().GetName().Name}.");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var table = new Dictionary<string, string>(2300, StringComparer.Ordinal);
        while (reader.ReadLine() is { } line)
        {
            if (line.Length == 0 || line[0] == '#') continue;
            var tab = line.IndexOf('\t');
            var sb = new StringBuilder(2);
            foreach (var hex in line[(tab + 1)..].Split(' '))
                sb.Append(char.ConvertFromUtf32(int.Parse(hex, NumberStyles.HexNumber, CultureInfo.InvariantCulture)));
            table[line[..tab]] = sb.ToString();
        }
        return table;
    }

    // Python's str.upper is the full mapping; the only multi-character results among entity values.
    private static string PythonUpper(string value) => value switch
    {
        "\u00DF" => "SS",
        "\uFB00" => "FF",
        "\uFB01" => "FI",
        "\uFB02" => "FL",
        "\uFB03" => "FFI",
        "\uFB04" => "FFL",
        "\u0149" => "\u02BCN",
        "\u0131" => "I", // .NET's invariant casing keeps the dotless i; Python upper-cases it

        _ => value.ToUpperInvariant(),
    };

    private static Dictionary<string, string> BuildFtfyTable()
    {
        var table = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, value) in Named)
        {
            if (!name.EndsWith(';')) continue;
            table["&" + name] = value;
            // ftfy also accepts an all-capitals spelling of a lower-case entity (e.g. "&EACUTE;") when
            // html.unescape leaves that spelling alone, mapping it to the upper-case character.
            if (name == name.ToLowerInvariant())
            {
                var upper = "&" + name.ToUpperInvariant();
                if (PythonUnescape(upper) == upper)
                    table[upper] = PythonUpper(value);
            }
        }
        return table;
    }
}
