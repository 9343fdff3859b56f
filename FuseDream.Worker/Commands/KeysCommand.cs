using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using FuseDream.Access;
using FuseDream.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace FuseDream.Worker.Commands;

/// <summary>
/// <c>keys create | list | revoke</c>: the service's API keys, on its database
/// (<c>ConnectionStrings__FuseDream</c>). <c>create</c> prints the key's text and webhook secret
/// once, as one JSON line; the database keeps only a hash of the key.
/// Exit codes: 0 done, 1 no such key, 2 bad input, 3 the database is not usable.
/// </summary>
public static class KeysCommand
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static Command Create()
    {
        var command = new Command("keys", "Create, list and revoke the API's keys.")
        {
            CreateCreate(),
            CreateList(),
            CreateRevoke(),
        };
        return command;
    }

    private static Command CreateCreate()
    {
        var name = new Option<string>("--name") { Description = "Who or what uses the key.", Required = true };
        var scopes = new Option<string[]>("--scope")
        {
            Description = $"A scope to grant (repeat for more): {string.Join(", ", ApiKeyScopes.All)}.",
            Required = true,
            AllowMultipleArgumentsPerToken = true,
        };
        var expires = new Option<string?>("--expires") { Description = "When it stops working: an ISO 8601 time (2027-01-31T00:00Z) or a span from now (30d, 12h)." };
        var command = new Command("create", "Create an API key; prints it (and its webhook secret) once, as one JSON line.") { name, scopes, expires };
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction(async (parse, ct) =>
        {
            var error = parse.InvocationConfiguration.Error;
            var granted = parse.GetValue(scopes) ?? [];
            var problems = new List<string>();
            if (string.IsNullOrWhiteSpace(parse.GetValue(name)) || parse.GetValue(name)!.Trim().Length > 100)
                problems.Add("--name must be 1 to 100 characters");
            if (ApiKeyScopes.Unknown(granted) is { Count: > 0 } unknown)
                problems.Add($"unknown scope(s) {string.Join(", ", unknown)}; known scopes: {string.Join(", ", ApiKeyScopes.All)}");
            DateTimeOffset? expiresAt = null;
            if (parse.GetValue(expires) is { } text)
            {
                expiresAt = ParseExpiry(text);
                if (expiresAt is null) problems.Add($"--expires must be an ISO 8601 time or a span such as 30d or 12h (got '{text}')");
                else if (expiresAt <= DateTimeOffset.UtcNow) problems.Add("--expires must be in the future");
            }
            if (problems.Count > 0)
            {
                foreach (var problem in problems) error.WriteLine($"error: {problem}");
                return QueueCommands.BadInput;
            }
            return await WithKeysAsync(parse, async keys =>
            {
                var created = await keys.CreateAsync(parse.GetValue(name)!, granted, expiresAt, ct);
                parse.InvocationConfiguration.Output.WriteLine(JsonSerializer.Serialize(new
                {
                    id = created.Key.Id,
                    name = created.Key.Name,
                    scopes = created.Key.Scopes,
                    expiresAt = created.Key.ExpiresAt,
                    key = created.Token,
                    webhookSecret = created.WebhookSecret,
                }, Json));
                error.WriteLine("note: the key and the webhook secret are shown only now; the service stores a hash of the key.");
                return 0;
            }, ct);
        });
        return command;
    }

    private static Command CreateList()
    {
        var command = new Command("list", "List the API keys (never their secrets), newest first, one JSON line each.");
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction(async (parse, ct) => await WithKeysAsync(parse, async keys =>
        {
            foreach (var key in await keys.ListAsync(ct))
                parse.InvocationConfiguration.Output.WriteLine(JsonSerializer.Serialize(key, Json));
            return 0;
        }, ct));
        return command;
    }

    private static Command CreateRevoke()
    {
        var id = new Argument<string>("id") { Description = "The key's id (the part after fd_, before the second _)." };
        var command = new Command("revoke", "Revoke an API key: the API refuses it from the next request on.") { id };
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction(async (parse, ct) => await WithKeysAsync(parse, async keys =>
        {
            var keyId = parse.GetValue(id)!;
            // The whole key is accepted too, so a leaked key can be revoked as it was found.
            if (ApiKeyToken.TryParse(keyId, out var parsed, out _)) keyId = parsed;
            if (await keys.RevokeAsync(keyId, ct) is not { } revoked)
            {
                parse.InvocationConfiguration.Error.WriteLine($"error: no API key has id '{keyId}'");
                return QueueCommands.Refused;
            }
            parse.InvocationConfiguration.Output.WriteLine(JsonSerializer.Serialize(revoked, Json));
            return 0;
        }, ct));
        return command;
    }

    internal static DateTimeOffset? ParseExpiry(string text)
    {
        text = text.Trim();
        if (text.Length > 1 && char.IsAsciiLetter(text[^1])
            && double.TryParse(text[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out var amount) && amount > 0)
        {
            var span = char.ToLowerInvariant(text[^1]) switch
            {
                'd' => TimeSpan.FromDays(amount),
                'h' => TimeSpan.FromHours(amount),
                'm' => TimeSpan.FromMinutes(amount),
                _ => (TimeSpan?)null,
            };
            return span is { } s ? DateTimeOffset.UtcNow + s : null;
        }
        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at) ? at : null;
    }

    /// <summary>Runs <paramref name="use"/> on the service's database (migrated first, as the API does).</summary>
    private static Task<int> WithKeysAsync(ParseResult parse, Func<ApiKeyStore, Task<int>> use, CancellationToken ct) =>
        DatabaseCommandHost.RunAsync(Host.CreateApplicationBuilder([.. parse.UnmatchedTokens]), parse, use, ct);
}
