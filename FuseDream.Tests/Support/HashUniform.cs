namespace FuseDream.Tests.Support;

/// <summary>
/// The fixtures' deterministic inputs ("hash_uniform" in their JSON): floats in [-1, 1)
/// from an integer hash, so inputs need not be stored.
/// </summary>
public static class HashUniform
{
    public static float[] Generate(long n, ulong salt)
    {
        const ulong mask = 0xFFFFFFFF;
        var values = new float[n];
        for (ulong i = 0; i < (ulong)n; i++)
        {
            var h = (i * 2654435761UL + salt) & mask;
            h ^= h >> 16;
            h = (h * 0x045d9f3bUL) & mask;
            h ^= h >> 16;
            values[i] = (float)((double)h / 4294967296.0 * 2.0 - 1.0);
        }
        return values;
    }
}
