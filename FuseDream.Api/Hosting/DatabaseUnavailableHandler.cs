using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;
using FuseDream.Persistence;

namespace FuseDream.Api.Hosting;

/// <summary>A database or disk hiccup is the server's momentary problem, not a bug: answer 503 with Retry-After, as problem details.</summary>
public sealed class DatabaseUnavailableHandler(IProblemDetailsService problems, ILogger<DatabaseUnavailableHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        // A bad request body (too large, cut short) is an IOException too, but the client's: not a 503.
        if (exception is BadHttpRequestException || !TransientErrors.IsTransient(exception)) return false;
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
}
