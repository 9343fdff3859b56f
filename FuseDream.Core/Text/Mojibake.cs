using System.Text;
using System.Text.Unicode;

namespace FuseDream.Text;

/// <summary>
/// The part of ftfy's <c>fix_encoding</c> that prompts meet: UTF-8 text that was decoded as
/// Latin-1 or Windows-1252 ("donâ€™t" → "don’t"). Like ftfy, a whole line is re-decoded when
/// every character maps back to a byte and the bytes are valid UTF-8; otherwise only the
/// unmistakable sequences are fixed in place (three- and four-byte sequences, and two-byte
/// ones starting with "Â"/"Ã"). ftfy's statistical badness score, its other code pages
/// (1250/1251/…, MacRoman, cp437) and its lossy-sequence repairs are not reproduced.
/// </summary>
internal static class Mojibake
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    // Windows-1252 bytes 0x80–0x9F; the five undefined slots decode to the C1 character ("sloppy" codec).
    private const string Cp1252High =
        "\u20AC\u0081\u201A\u0192\u201E\u2026\u2020\u2021\u02C6\u2030\u0160\u2039\u0152\u008D\u017D\u008F" +
        "\u0090\u2018\u2019\u201C\u201D\u2022\u2013\u2014\u02DC\u2122\u0161\u203A\u0153\u009D\u017E\u0178";

    private static readonly Dictionary<char, byte> Cp1252Reverse = BuildReverse();

    private static Dictionary<char, byte> BuildReverse()
    {
        var map = new Dictionary<char, byte>();
        for (var i = 0; i < Cp1252High.Length; i++) map[Cp1252High[i]] = (byte)(0x80 + i);
        return map;
    }

    /// <summary>The byte a character stands for in sloppy Windows-1252, or -1.</summary>
    public static int SloppyCp1252Byte(char c)
    {
        if (c < 0x80 || c is >= '\u00A0' and <= '\u00FF') return c;
        return Cp1252Reverse.TryGetValue(c, out var b) ? b : -1;
    }

    /// <summary>Sloppy Windows-1252 decoding of one byte (used for C1 controls).</summary>
    public static char DecodeSloppyCp1252(byte b) => b is >= 0x80 and <= 0x9F ? Cp1252High[b - 0x80] : (char)b;

    public static string Fix(string text)
    {
        if (text.Length == 0 || Ascii.IsValid(text)) return text;
        if (TryWholeText(text, latin1: true, out var fixedText) || TryWholeText(text, latin1: false, out fixedText))
            return fixedText;
        return FixInIsolation(text);
    }

    private static bool TryWholeText(string text, bool latin1, out string result)
    {
        result = text;
        var bytes = new byte[text.Length];
        for (var i = 0; i < text.Length; i++)
        {
            var b = latin1 ? (text[i] <= 0xFF ? text[i] : -1) : SloppyCp1252Byte(text[i]);
            if (b < 0) return false;
            bytes[i] = (byte)b;
        }
        // Validate first: a decoder exception per prompt would cost more than the whole tokenisation.
        if (!Utf8.IsValid(bytes)) return false;
        result = StrictUtf8.GetString(bytes);
        return result != text;
    }

    private static string FixInIsolation(string text)
    {
        StringBuilder? sb = null;
        var copied = 0;
        Span<byte> bytes = stackalloc byte[4];
        for (var i = 0; i < text.Length; i++)
        {
            var lead = SloppyCp1252Byte(text[i]);
            var length = lead switch
            {
                0xC2 or 0xC3 => 2,
                >= 0xE0 and <= 0xEF => 3,
                >= 0xF0 and <= 0xF4 => 4,
                _ => 0,
            };
            if (length == 0 || i + length > text.Length) continue;
            bytes[0] = (byte)lead;
            var ok = true;
            for (var k = 1; k < length && ok; k++)
            {
                var b = SloppyCp1252Byte(text[i + k]);
                ok = b is >= 0x80 and <= 0xBF;
                bytes[k] = (byte)Math.Max(b, 0);
            }
            if (!ok) continue;
            if (!Utf8.IsValid(bytes[..length])) continue;
            var decoded = StrictUtf8.GetString(bytes[..length]);
            sb ??= new StringBuilder(text.Length);
            sb.Append(text, copied, i - copied).Append(decoded);
            copied = i + length;
            i += length - 1;
        }
        if (sb is null) return text;
        sb.Append(text, copied, text.Length - copied);
        return sb.ToString();
    }
}
