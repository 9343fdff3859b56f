using FuseDream.Persistence;

namespace FuseDream.Tests.Persistence;

public class TransientErrorsTests
{
    [Fact]
    public void AnIoHiccupOrATimeout_IsTransient()
    {
        Assert.True(TransientErrors.IsTransient(new IOException("Input/output error")));
        Assert.True(TransientErrors.IsTransient(new TimeoutException()));
    }

    [Fact]
    public void AFullDisk_IsNotTransient()
    {
        var full = OperatingSystem.IsWindows() ? new IOException("There is not enough space on the disk.", unchecked((int)0x80070070))
                                               : new IOException("No space left on device", 28);
        Assert.True(TransientErrors.IsDiskFull(full));
        Assert.False(TransientErrors.IsTransient(full));
    }

    [Fact]
    public void AMissingFileOrDirectory_IsNotTransient()
    {
        var ex = Assert.Throws<FileNotFoundException>(() => File.OpenRead(Path.Combine(Path.GetTempPath(), Guid.NewGuid().ToString("N"))));
        Assert.False(TransientErrors.IsTransient(ex));
        Assert.False(TransientErrors.IsTransient(new DirectoryNotFoundException("gone")));
    }

    [Fact]
    public void ARealFullDisk_IsRecognised_WhereTheMachineHasOne()
    {
        // /dev/full answers every write with ENOSPC: the HResult the classifier reads is the real one.
        if (!File.Exists("/dev/full")) return;
        using var stream = new FileStream("/dev/full", FileMode.Open, FileAccess.Write, FileShare.ReadWrite, 1);
        var ex = Assert.ThrowsAny<IOException>(() => { stream.Write(new byte[16]); stream.Flush(); });
        Assert.True(TransientErrors.IsDiskFull(ex), $"HResult {ex.HResult}: {ex.Message}");
        Assert.False(TransientErrors.IsTransient(ex));
    }
}
