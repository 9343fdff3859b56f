using FuseDream.Tests.Api;

namespace FuseDream.Tests.Support;

/// <summary>
/// The service with <c>Blobs:Provider=s3</c> on its own s3rver process (<see cref="S3"/>),
/// started before the host and stopped after it.
/// </summary>
public abstract class S3ServiceFactory : ServiceFactory
{
    public S3rverProcess S3 { get; private set; } = null!;

    protected override async Task BeforeStartAsync() => S3 = await S3rverProcess.StartAsync();

    protected override IEnumerable<(string Key, string Value)> ExtraSettings => S3.Settings();

    protected override async Task AfterStopAsync()
    {
        if (S3 is not null) await S3.DisposeAsync();
    }
}
