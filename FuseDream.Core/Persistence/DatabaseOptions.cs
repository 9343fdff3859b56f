using System.ComponentModel.DataAnnotations;

namespace FuseDream.Persistence;

/// <summary>Where the service keeps its rows and its Hangfire queue.</summary>
internal sealed class DatabaseOptions
{
    /// <summary>Configuration section: <c>ConnectionStrings</c>; the key is <see cref="ConnectionStringName"/>.</summary>
    public const string ConnectionStringName = "FuseDream";

    /// <summary>The database that <c>scripts/bootstrap.sh</c> creates; used only in the Development environment when none is configured.</summary>
    public const string DevelopmentDefault =
        "Host=localhost;Port=5432;Database=fusedream;Username=fusedream;Password=fusedream";

    [Required(ErrorMessage = "ConnectionStrings:FuseDream (env ConnectionStrings__FuseDream) is required outside the Development environment: a PostgreSQL connection string.")]
    public string ConnectionString { get; set; } = "";
}
