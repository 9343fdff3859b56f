using System.Net;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FuseDream.Telemetry;

/// <summary>
/// The worker's <c>/metrics</c> on its own port (<see cref="MetricsOptions.Port"/>): the worker
/// serves no HTTP otherwise. A small <see cref="HttpListener"/> loop; it answers <c>GET
/// /metrics</c> and 404 for anything else.
/// </summary>
internal sealed class WorkerMetricsServer(FuseDreamMetrics metrics, IOptions<MetricsOptions> options, ILogger<WorkerMetricsServer> logger) : BackgroundService
{
    private HttpListener? _listener;

    /// <summary>The port listened on (the configured one, or the free one picked for 0).</summary>
    public int Port { get; private set; }

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        if (!settings.Enabled) return Task.CompletedTask;
        Port = settings.Port == 0 ? FreePort() : settings.Port;
        _listener = new HttpListener();
        _listener.Prefixes.Add($"http://+:{Port}/");
        try
        {
            _listener.Start();
        }
        catch (HttpListenerException ex)
        {
            throw new InvalidOperationException(
                $"The worker's metrics cannot listen on port {Port} ({ex.Message}): set Metrics:Port (env Metrics__Port) to a free port, or Metrics:Enabled=false.", ex);
        }
        logger.LogInformation("Metrics at http://+:{Port}/metrics", Port);
        return base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var listener = _listener!;
        using var stop = stoppingToken.Register(listener.Stop);
        while (!stoppingToken.IsCancellationRequested)
        {
            HttpListenerContext context;
            try
            {
                context = await listener.GetContextAsync();
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException && stoppingToken.IsCancellationRequested)
            {
                return;
            }
            _ = Task.Run(() => AnswerAsync(context, stoppingToken), CancellationToken.None);
        }
    }

    private async Task AnswerAsync(HttpListenerContext context, CancellationToken cancellationToken)
    {
        var response = context.Response;
        try
        {
            if (context.Request.HttpMethod != "GET" || context.Request.Url?.AbsolutePath.TrimEnd('/') != "/metrics")
            {
                response.StatusCode = 404;
                return;
            }
            if (!MetricsExposition.IsAllowed(options.Value, context.Request.Headers["Authorization"]))
            {
                response.StatusCode = 401;
                response.AddHeader("WWW-Authenticate", "Bearer");
                return;
            }
            response.ContentType = MetricsExposition.ContentType;
            using var body = new MemoryStream();
            await MetricsExposition.WriteAsync(body, metrics, cancellationToken);
            response.ContentLength64 = body.Length;
            body.Position = 0;
            await body.CopyToAsync(response.OutputStream, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.LogWarning("Metrics: a scrape failed: {Reason}", ex.Message);
            try { response.StatusCode = 500; } catch (InvalidOperationException) { }
        }
        finally
        {
            try { response.Close(); } catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException) { }
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_listener is null) return;
        await base.StopAsync(cancellationToken);
        _listener.Close();
    }

    private static int FreePort()
    {
        var probe = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }
}
