namespace FuseDream.Generation;

/// <summary>
/// numpy's legacy <c>RandomState</c> as far as the original uses it: MT19937 seeded with
/// <c>np.random.seed(uint32)</c> and <c>np.random.rand()</c> (53-bit doubles, <c>genrand_res53</c>).
/// </summary>
internal sealed class NumpyRandomState
{
    private const int N = 624;
    private const int M = 397;
    private readonly uint[] _state = new uint[N];
    private int _position;

    public NumpyRandomState(uint seed)
    {
        // numpy's mt19937_seed (= Matsumoto & Nishimura's init_genrand).
        _state[0] = seed;
        for (var i = 1; i < N; i++)
            _state[i] = unchecked(1812433253U * (_state[i - 1] ^ (_state[i - 1] >> 30)) + (uint)i);
        _position = N;
    }

    /// <summary><c>np.random.rand()</c>: uniform in [0, 1) with 53 random bits.</summary>
    public double RandomSample()
    {
        var a = NextUInt32() >> 5;
        var b = NextUInt32() >> 6;
        return (a * 67108864.0 + b) / 9007199254740992.0;
    }

    private uint NextUInt32()
    {
        if (_position >= N) Twist();
        var y = _state[_position++];
        y ^= y >> 11;
        y ^= (y << 7) & 0x9D2C5680U;
        y ^= (y << 15) & 0xEFC60000U;
        y ^= y >> 18;
        return y;
    }

    private void Twist()
    {
        for (var i = 0; i < N; i++)
        {
            var y = (_state[i] & 0x80000000U) | (_state[(i + 1) % N] & 0x7FFFFFFFU);
            var next = _state[(i + M) % N] ^ (y >> 1);
            if ((y & 1) != 0) next ^= 0x9908B0DFU;
            _state[i] = next;
        }
        _position = 0;
    }
}
