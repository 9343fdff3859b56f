using FuseDream.Queue;
using Hangfire;
using Hangfire.Client;
using Hangfire.Common;
using Hangfire.Server;
using Hangfire.States;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FuseDream.Webhooks;

/// <summary>
/// The delivery jobs on the <see cref="WebhookOptions.Queue"/> queue, in the generations' Hangfire
/// storage, and the one HTTP client they share (no redirects: a redirect could lead inside;
/// connections through <see cref="WebhookUrlGuard.ConnectAsync"/>).
/// </summary>
internal sealed class WebhookJobs : IDisposable
{
    private readonly Lazy<BackgroundJobClient> _client;

    public WebhookJobs(GenerationQueue queue, WebhookUrlGuard guard)
    {
        // The queue parameter keeps a scheduled retry on the webhooks queue when whichever server
        // enqueues it applies ModelQueueFilter.
        _client = new(() => new BackgroundJobClient(queue.Storage, new JobFilterCollection { new OnWebhookQueue() }), LazyThreadSafetyMode.PublicationOnly);
        Http = new HttpClient(new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            ConnectCallback = guard.ConnectAsync,
            PooledConnectionLifetime = TimeSpan.FromMinutes(1),
            UseCookies = false,
        });
        Http.DefaultRequestHeaders.UserAgent.ParseAdd("FuseDream-Webhooks/1");
    }

    public HttpClient Http { get; }

    public string Enqueue(Guid deliveryId) =>
        _client.Value.Create(Job.FromExpression<WebhookDeliveryJob>(j => j.DeliverAsync(deliveryId, CancellationToken.None)), new EnqueuedState(WebhookOptions.Queue));

    public string Schedule(Guid deliveryId, TimeSpan delay) =>
        _client.Value.Create(Job.FromExpression<WebhookDeliveryJob>(j => j.DeliverAsync(deliveryId, CancellationToken.None)), new ScheduledState(DueAfter(delay)));

    /// <summary>
    /// When a job delayed by <paramref name="delay"/> is due. Hangfire's scheduler keeps due times
    /// in whole seconds, truncated, and so would run a job up to a second early: the due time is
    /// rounded up to the next whole second, so a retry never comes before its back-off.
    /// </summary>
    internal static DateTime DueAfter(TimeSpan delay, DateTime? now = null)
    {
        var due = (now ?? DateTime.UtcNow) + delay;
        var ticks = (due.Ticks + TimeSpan.TicksPerSecond - 1) / TimeSpan.TicksPerSecond * TimeSpan.TicksPerSecond;
        return new DateTime(ticks, DateTimeKind.Utc);
    }

    public void Dispose() => Http.Dispose();

    private sealed class OnWebhookQueue : IClientFilter
    {
        public void OnCreating(CreatingContext context) => context.SetJobParameter(ModelQueueFilter.Parameter, WebhookOptions.Queue);

        public void OnCreated(CreatedContext context)
        {
        }
    }
}

/// <summary>
/// In the API: hands the events the database recorded to the delivery queue (every
/// <see cref="WebhookOptions.DispatchInterval"/>), and runs a Hangfire server on that queue only.
/// </summary>
internal sealed class WebhookDelivery(
    WebhookDeliveries deliveries,
    WebhookJobs jobs,
    GenerationQueue queue,
    IOptions<WebhookOptions> options,
    IOptions<QueueOptions> queueOptions,
    IServiceScopeFactory scopes,
    ILogger<WebhookDelivery> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        using var server = new BackgroundJobServer(new BackgroundJobServerOptions
        {
            ServerName = $"webhooks:{Environment.MachineName}:{Guid.NewGuid():N}",
            Queues = [WebhookOptions.Queue],
            WorkerCount = 2,
            SchedulePollingInterval = queueOptions.Value.SchedulePollingInterval,
            FilterProvider = queue.Filters,
            Activator = new ScopedActivator(scopes),
        }, queue.Storage);
        using var timer = new PeriodicTimer(settings.DispatchInterval);
        do
        {
            try
            {
                await deliveries.DispatchAsync(settings.ProgressInterval, jobs.Enqueue, stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning("Webhook dispatch failed, retrying: {Reason}", ex.Message);
            }
        }
        while (await WaitAsync(timer, stoppingToken));
        server.SendStop();
        await server.WaitForShutdownAsync(CancellationToken.None);
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken token)
    {
        try
        {
            return await timer.WaitForNextTickAsync(token);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private sealed class ScopedActivator(IServiceScopeFactory scopes) : JobActivator
    {
        public override JobActivatorScope BeginScope(JobActivatorContext context) => new Scope(scopes.CreateScope());

        private sealed class Scope(IServiceScope scope) : JobActivatorScope
        {
            public override object Resolve(Type type) => ActivatorUtilities.GetServiceOrCreateInstance(scope.ServiceProvider, type);

            public override void DisposeScope() => scope.Dispose();
        }
    }
}

public static class WebhookServiceCollectionExtensions
{
    /// <summary>The webhook checks (for the submit) and, with <see cref="WebhookOptions.Deliver"/>, their delivery in this process.</summary>
    public static IServiceCollection AddWebhooks(this IServiceCollection services, bool deliver)
    {
        services.AddOptions<WebhookOptions>().BindConfiguration(WebhookOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<WebhookUrlGuard>();
        services.AddSingleton<WebhookDeliveries>();
        services.AddSingleton<WebhookJobs>();
        services.AddTransient<WebhookDeliveryJob>();
        if (deliver) services.AddHostedService<WebhookDelivery>();
        return services;
    }
}
