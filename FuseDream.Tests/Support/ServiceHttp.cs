namespace FuseDream.Tests.Support;

/// <summary>
/// The one place the operations tests build an <see cref="HttpClient"/> to a service they
/// started (an API host or process, a worker's metrics port), so that what every request
/// needs (credentials, a timeout) is added here once.
/// </summary>
public static class ServiceHttp
{
    /// <summary>A client without credentials (health, a worker's metrics port, refusals).</summary>
    public static HttpClient Client(Uri address, TimeSpan? timeout = null) =>
        new() { BaseAddress = address, Timeout = timeout ?? TimeSpan.FromSeconds(30) };

    /// <summary>A client of a service a test hosts, sending the service's admin API key.</summary>
    public static HttpClient Client(Api.ServiceFactory service, TimeSpan? timeout = null)
    {
        var client = Client(service.Address, timeout);
        client.DefaultRequestHeaders.Authorization = new("Bearer", service.AdminKey);
        return client;
    }
}
