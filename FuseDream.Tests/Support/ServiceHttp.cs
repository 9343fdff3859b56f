namespace FuseDream.Tests.Support;

/// <summary>
/// The one place the operations tests build an <see cref="HttpClient"/> to a service they
/// started (an API host or process, a worker's metrics port), so that what every request
/// needs (credentials, a timeout) is added here once.
/// </summary>
public static class ServiceHttp
{
    public static HttpClient Client(Uri address, TimeSpan? timeout = null) =>
        new() { BaseAddress = address, Timeout = timeout ?? TimeSpan.FromSeconds(30) };
}
