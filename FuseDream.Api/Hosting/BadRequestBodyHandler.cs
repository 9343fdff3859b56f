using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;

namespace FuseDream.Api.Hosting;

/// <summary>
/// A request body the server refused while reading it (too large: 413; malformed or cut short: 400)
/// is the client's problem, answered with its own status as problem details. Registered before
/// <see cref="DatabaseUnavailableHandler"/>: the exception is an <see cref="IOException"/>, which
/// would otherwise pass for a disk hiccup and be answered 503.
/// </summary>
public sealed class BadRequestBodyHandler(IProblemDetailsService problems) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not BadHttpRequestException bad || httpContext.Response.HasStarted) return false;
        httpContext.Response.StatusCode = bad.StatusCode;
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            ProblemDetails = new ProblemDetails
            {
                Status = bad.StatusCode,
                Title = bad.StatusCode == StatusCodes.Status413PayloadTooLarge ? "The request body is too large." : "The request body could not be read.",
                Detail = bad.Message,
            },
        });
    }
}
