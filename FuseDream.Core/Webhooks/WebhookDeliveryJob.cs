using System.ComponentModel;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FuseDream.Webhooks;

/// <summary>
/// The Hangfire job of one webhook attempt: POSTs the event, signed, to the generation's
/// webhook; a 2xx answer delivers it. Otherwise the next attempt is scheduled after an
/// exponentially growing wait (<see cref="WebhookOptions.DelayAfter"/>), and after
/// <see cref="WebhookOptions.MaxAttempts"/> the event is recorded as failed. At least once:
/// an attempt may be repeated if the process dies mid-way; every attempt of one event carries
/// the same <c>webhook-id</c>, on which receivers deduplicate.
/// </summary>
internal sealed class WebhookDeliveryJob(
    WebhookDeliveries deliveries,
    WebhookUrlGuard guard,
    WebhookJobs jobs,
    IOptions<WebhookOptions> options,
    ILogger<WebhookDeliveryJob> logger)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    [DisplayName("Webhook {0}")]
    public async Task DeliverAsync(Guid deliveryId, CancellationToken cancellationToken)
    {
        var delivery = await deliveries.GetPendingAsync(deliveryId, cancellationToken);
        if (delivery is null || delivery.Status != "pending") return; // delivered or given up already

        var settings = options.Value;
        int? statusCode = null;
        string? error = null;
        // Checked again now: the name may point elsewhere than at the submit.
        if (await guard.ProblemAsync(delivery.Url, cancellationToken) is { } refused)
        {
            await deliveries.RecordAttemptAsync(deliveryId, "failed", null, $"webhook {refused}", CancellationToken.None);
            logger.LogWarning("Webhook {DeliveryId} of generation {GenerationId} refused: {Reason}", deliveryId, delivery.GenerationId, refused);
            return;
        }
        try
        {
            var body = JsonSerializer.Serialize(new
            {
                type = $"generation.{delivery.Event}",
                timestamp = delivery.CreatedAt,
                data = JsonDocument.Parse(delivery.Payload).RootElement,
            }, Json);
            var timestamp = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            using var request = new HttpRequestMessage(HttpMethod.Post, delivery.Url)
            {
                Content = new StringContent(body, Encoding.UTF8, "application/json"),
            };
            var id = delivery.Id.ToString();
            request.Headers.Add(WebhookSignature.IdHeader, id);
            request.Headers.Add(WebhookSignature.TimestampHeader, timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture));
            request.Headers.Add(WebhookSignature.SignatureHeader, WebhookSignature.Sign(delivery.Secret, id, timestamp, body));
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(settings.Timeout);
            using var response = await jobs.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            statusCode = (int)response.StatusCode;
            if (response.IsSuccessStatusCode)
            {
                await deliveries.RecordAttemptAsync(deliveryId, "delivered", statusCode, null, CancellationToken.None);
                return;
            }
            error = $"the receiver answered {statusCode}";
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or IOException && !cancellationToken.IsCancellationRequested)
        {
            error = ex is OperationCanceledException ? $"no answer within {settings.Timeout.TotalSeconds} s" : ex.Message;
        }

        var attempts = delivery.Attempts + 1;
        if (attempts >= settings.MaxAttempts)
        {
            await deliveries.RecordAttemptAsync(deliveryId, "failed", statusCode, $"gave up after {attempts} attempts: {error}", CancellationToken.None);
            logger.LogWarning("Webhook {DeliveryId} of generation {GenerationId} failed after {Attempts} attempts: {Reason}", deliveryId, delivery.GenerationId, attempts, error);
            return;
        }
        await deliveries.RecordAttemptAsync(deliveryId, "pending", statusCode, error, CancellationToken.None);
        var wait = settings.DelayAfter(attempts);
        jobs.Schedule(deliveryId, wait);
        logger.LogInformation("Webhook {DeliveryId} attempt {Attempt} failed ({Reason}); next in {Wait}", deliveryId, attempts, error, wait);
    }
}
