namespace FuseDream.Access;

/// <summary>What an API key may do. <see cref="Admin"/> includes the others and sees every key's generations.</summary>
public static class ApiKeyScopes
{
    /// <summary>Submit and cancel generations.</summary>
    public const string Generate = "generate";

    /// <summary>Read generations, their images, traces and previews, and the models.</summary>
    public const string Read = "read";

    /// <summary>Manage keys, see and cancel every key's generations, pass the per-request cost limit, open the job dashboard.</summary>
    public const string Admin = "admin";

    public static IReadOnlyList<string> All { get; } = [Generate, Read, Admin];

    /// <summary>Whether <paramref name="granted"/> allows <paramref name="scope"/> (admin allows everything).</summary>
    public static bool Allows(IEnumerable<string> granted, string scope) =>
        granted.Contains(scope, StringComparer.Ordinal) || granted.Contains(Admin, StringComparer.Ordinal);

    /// <summary>The unknown names among <paramref name="scopes"/>.</summary>
    public static IReadOnlyList<string> Unknown(IEnumerable<string> scopes) => [.. scopes.Where(s => !All.Contains(s, StringComparer.Ordinal))];
}
