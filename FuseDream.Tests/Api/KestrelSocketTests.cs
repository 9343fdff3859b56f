using System.Net;
using System.Net.Sockets;
using System.Text;

namespace FuseDream.Tests.Api;

/// <summary>The service tests' HTTP goes over a real TCP socket to Kestrel, not through the in-memory TestServer.</summary>
public class KestrelSocketTests(KestrelSocketTests.Factory factory) : IClassFixture<KestrelSocketTests.Factory>
{
    /// <summary>No worker: only the socket is under test.</summary>
    public sealed class Factory : ServiceFactory
    {
        protected override bool InProcessWorker => false;
    }

    [Fact]
    public async Task RawTcpClient_OnTheBoundLoopbackPort_GetsTheServiceAnswer()
    {
        Assert.Equal(IPAddress.Loopback.ToString(), factory.Address.Host);
        Assert.NotEqual(0, factory.Address.Port);

        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, factory.Address.Port);
        await using var stream = tcp.GetStream();
        var request = $"GET /health/live HTTP/1.1\r\nHost: {factory.Address.Authority}\r\nConnection: close\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request));
        using var reader = new StreamReader(stream, Encoding.ASCII);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var response = await reader.ReadToEndAsync(timeout.Token);

        Assert.StartsWith("HTTP/1.1 200", response);
        Assert.Contains("Server: Kestrel", response);
    }

    [Fact]
    public async Task FactoryClients_TalkToTheSameSocket()
    {
        using var client = factory.CreateClient();
        Assert.Equal(factory.Address.GetLeftPart(UriPartial.Authority), client.BaseAddress!.GetLeftPart(UriPartial.Authority));

        // A client that knows nothing of the factory, on the same address, sees the same service.
        using var plain = new HttpClient { BaseAddress = factory.Address };
        plain.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", factory.AdminKey);
        using var viaFactory = await client.GetAsync("/v1/models");
        using var viaPlain = await plain.GetAsync("/v1/models");
        Assert.Equal(HttpStatusCode.OK, viaFactory.StatusCode);
        Assert.Equal(await viaFactory.Content.ReadAsStringAsync(), await viaPlain.Content.ReadAsStringAsync());
    }
}
