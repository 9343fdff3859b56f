using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;
using FuseDream.Persistence;

namespace FuseDream.Api.Hosting;

/// <summary>A database or disk hiccup is the server's momentary problem, not a bug: answer 503 with Retry-After, as problem details.</summary>
public sealed class DatabaseUnavailableHandler(IProblemDetailsService problems, ILogger<DatabaseUnavailableHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        // Only the database and the blob store earn a 503. A bad request body (too large, cut
        // short) and a client that went away are IOExceptions too, but the client's.
        if (!IsServerSide(httpContext, exception)) return false;
        logger.LogWarning("Request {Path} failed on a transient error: {Reason}", httpContext.Request.Path, exception.Message);
        httpContext.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        httpContext.Response.Headers.RetryAfter = "1";
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            Exception = exception,
            ProblemDetails = new ProblemDetails
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Title = "Temporarily unavailable.",
                Detail = "The database or the blob store did not answer; retry in a moment.",
            },
        });
    }

    /// <summary>A transient failure of the database or the blob store, not of this request's own connection.</summary>
    public static bool IsServerSide(HttpContext httpContext, Exception exception) =>
        exception is not (BadHttpRequestException or Microsoft.AspNetCore.Connections.ConnectionResetException or OperationCanceledException)
        && !httpContext.RequestAborted.IsCancellationRequested
        && TransientErrors.IsTransient(exception);
}
