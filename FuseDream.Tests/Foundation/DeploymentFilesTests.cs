using System.ComponentModel;
using System.Diagnostics;
using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;
using FuseDream.Api.Hosting;
using FuseDream.Worker.Commands;
using FuseDream.Models;
using FuseDream.Persistence;
using FuseDream.Worker;

namespace FuseDream.Tests.Foundation;

/// <summary>
/// docker-compose.yml, Dockerfile.api and Dockerfile.gpu cannot be built here (no Docker
/// engine), so they are read: every setting they pass must be one the code binds or reads,
/// with a value of the right type, and the services must agree with each other and with the
/// images (ports, database credentials, shared volumes, the CUDA backend, a non-root user).
/// </summary>
public partial class DeploymentFilesTests
{
    private static readonly string Repo = ApiPublishTests.RepositoryRoot();
    private static readonly ComposeFile Compose = ComposeFile.Read(Path.Combine(Repo, "docker-compose.yml"));

    /// <summary>Variables read by the framework or the runtime rather than by an options class.</summary>
    private static readonly HashSet<string> FrameworkVariables =
        ["ASPNETCORE_URLS", "ASPNETCORE_HTTP_PORTS", "ASPNETCORE_ENVIRONMENT", "DOTNET_ENVIRONMENT", "DOTNET_RUNNING_IN_CONTAINER"];

    private static readonly Assembly[] CodeAssemblies =
        [typeof(WorkerOptions).Assembly, typeof(FuseDream.Api.Hosting.WorkerHealthCheck).Assembly, typeof(ServeCommand).Assembly];

    public static TheoryData<string, string, string> Settings()
    {
        var data = new TheoryData<string, string, string>();
        foreach (var service in new[] { "api", "worker" })
            foreach (var (key, value) in Compose.Environment(service))
                data.Add($"docker-compose.yml {service}", key, value);
        foreach (var file in new[] { "Dockerfile.api", "Dockerfile.gpu" })
            foreach (var (key, value) in Dockerfile(file).Env)
                data.Add(file, key, value);
        return data;
    }

    [Theory]
    [MemberData(nameof(Settings))]
    public void EverySetting_IsOneTheCodeReads_WithAValueOfItsType(string where, string key, string value)
    {
        var parts = key.Split("__");
        if (parts.Length == 1)
        {
            var readByCode = CodeAssemblies.SelectMany(a => a.GetTypes())
                .SelectMany(t => t.GetFields(BindingFlags.Public | BindingFlags.Static))
                .Where(f => f.IsLiteral && f.Name.EndsWith("Variable", StringComparison.Ordinal))
                .Select(f => (string)f.GetRawConstantValue()!);
            Assert.True(readByCode.Contains(key) || FrameworkVariables.Contains(key), $"{where}: {key} is not an environment variable the code reads");
            return;
        }
        if (parts[0] == "ConnectionStrings")
        {
            Assert.True(parts.Length == 2 && parts[1] == DatabaseOptions.ConnectionStringName, $"{where}: {key}: the code reads ConnectionStrings__{DatabaseOptions.ConnectionStringName}");
            return;
        }
        var section = CodeAssemblies.SelectMany(a => a.GetTypes())
            .FirstOrDefault(t => t.GetField("Section", BindingFlags.Public | BindingFlags.Static) is { IsLiteral: true } f && (string)f.GetRawConstantValue()! == parts[0]);
        Assert.True(section is not null, $"{where}: {key}: no options class binds the section '{parts[0]}'");
        // Nested sections (Blobs__S3__Bucket) walk the options' object properties.
        var owner = section;
        var index = 1;
        PropertyInfo? property;
        while (true)
        {
            property = owner.GetProperty(parts[index], BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase);
            Assert.True(property is { CanWrite: true }, $"{where}: {key}: {owner.Name} has no settable property '{parts[index]}'");
            var nested = property.PropertyType;
            if (index + 1 < parts.Length && nested.IsClass && nested != typeof(string) && !nested.IsArray) { owner = nested; index++; continue; }
            break;
        }
        var type = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
        if (type == typeof(string)) return;
        Assert.True(index == parts.Length - 1, $"{where}: {key}: {owner.Name}.{property.Name} is not a collection");
        var converted = TypeDescriptor.GetConverter(type).ConvertFromInvariantString(value);
        Assert.IsType(type, converted);
    }

    [Fact]
    public void ApiAndWorker_UseThePostgresServiceAndItsCredentials()
    {
        var postgres = Compose.Environment("postgres");
        foreach (var service in new[] { "api", "worker" })
        {
            var connection = Compose.Environment(service)[$"ConnectionStrings__{DatabaseOptions.ConnectionStringName}"];
            var parts = connection.Split(';', StringSplitOptions.RemoveEmptyEntries)
                .Select(p => p.Split('=', 2)).ToDictionary(p => p[0].Trim(), p => p[1].Trim(), StringComparer.OrdinalIgnoreCase);
            Assert.Equal("postgres", parts["Host"]);
            Assert.Equal(postgres["POSTGRES_USER"], parts["Username"]);
            Assert.Equal(postgres["POSTGRES_PASSWORD"], parts["Password"]);
            Assert.Equal(postgres["POSTGRES_DB"], parts["Database"]);
            Assert.Contains("service_healthy", Compose.Block(service, "depends_on"));
        }
        Assert.Contains("pg_isready", Compose.Block("postgres", "healthcheck"));
        Assert.Contains(Compose.Volumes("postgres"), v => v.Target == "/var/lib/postgresql/data" && Compose.NamedVolumes.Contains(v.Source));
    }

    [Fact]
    public void ApiAndWorker_ShareOneS3Bucket_ThatTheComposeFileCreates_OnAVolume()
    {
        var stores = new List<(string Url, string Bucket)>();
        foreach (var service in new[] { "api", "worker" })
        {
            var environment = Compose.Environment(service);
            Assert.Equal("s3", environment.GetValueOrDefault("Blobs__Provider"));
            var url = new Uri(environment["Blobs__S3__ServiceUrl"]);
            var bucket = environment["Blobs__S3__Bucket"];
            stores.Add((url.ToString(), bucket));
            // The S3 server is a service of this file, its data on a named volume.
            Assert.Contains(Compose.Volumes(url.Host), v => Compose.NamedVolumes.Contains(v.Source));
            Assert.StartsWith("[\"server\"", Compose.Scalar(url.Host, "command"));
            // The bucket exists before the service starts (a missing bucket stops it at start).
            var dependencies = Compose.Block(service, "depends_on");
            Assert.Contains("minio-init:", dependencies);
            Assert.Contains("service_completed_successfully", dependencies);
            Assert.Contains($"mb --ignore-existing local/{bucket}", Compose.Block("minio-init", "entrypoint"));
            Assert.Contains($"http://{url.Host}:{url.Port}", Compose.Block("minio-init", "entrypoint"));
            // Its credentials are the server's root user unless configured otherwise.
            Assert.Equal(Compose.Environment(url.Host)["MINIO_ROOT_USER"], environment["Blobs__S3__AccessKeyId"]);
            Assert.Equal(Compose.Environment(url.Host)["MINIO_ROOT_PASSWORD"], environment["Blobs__S3__SecretAccessKey"]);
        }
        Assert.Single(stores.Distinct());
    }

    [Fact]
    public void Api_PublishesTheContainerPortItListensOn()
    {
        var urls = Dockerfile("Dockerfile.api").Env["ASPNETCORE_URLS"];
        var port = Regex.Match(urls, @":(\d+)$").Groups[1].Value;
        Assert.Contains(Compose.List("api", "ports"), p => p.EndsWith(":" + port, StringComparison.Ordinal));
        Assert.Contains($"EXPOSE {port}", File.ReadAllText(Path.Combine(Repo, "Dockerfile.api")));
    }

    [Fact]
    public void Worker_ServesOnTheGpu_WithModelsFromAMountAndTimeToRequeueOnStop()
    {
        Assert.Contains("dockerfile: Dockerfile.gpu", Compose.Block("worker", "build"));
        Assert.Equal($"[\"{ServeCommand.Create().Name}\"]", Compose.Scalar("worker", "command"));
        var deploy = Compose.Block("worker", "deploy");
        Assert.Contains("driver: nvidia", deploy);
        Assert.Contains("capabilities: [gpu]", deploy);

        var environment = Compose.Environment("worker");
        var targets = Compose.Volumes("worker").Select(v => v.Target).ToList();
        var modelFiles = environment.Where(e => e.Key.StartsWith("Models__", StringComparison.Ordinal) && e.Value.StartsWith('/')).Select(e => e.Value);
        var store = environment.GetValueOrDefault("FUSEDREAM_MODELS") ?? FuseDream.Models.ModelStore.ContainerDirectory;
        foreach (var path in modelFiles.Append(store + "/"))
            Assert.True(targets.Any(t => path.StartsWith(t.TrimEnd('/') + "/", StringComparison.Ordinal)), $"worker: {path} is on no mounted volume ({string.Join(", ", targets)})");

        // Hangfire puts the running job back in the queue within Worker:ShutdownTimeout; Docker must wait longer before it kills.
        var shutdown = TimeSpan.Parse(environment.GetValueOrDefault("Worker__ShutdownTimeout") ?? "00:00:30", System.Globalization.CultureInfo.InvariantCulture);
        var grace = Regex.Match(Compose.Scalar("worker", "stop_grace_period"), @"^(\d+)s$");
        Assert.True(grace.Success, "worker: stop_grace_period must be given in seconds (e.g. 60s)");
        Assert.True(TimeSpan.FromSeconds(int.Parse(grace.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)) > shutdown,
            $"worker: stop_grace_period {grace.Value} must exceed Worker__ShutdownTimeout {shutdown}");
    }

    [Theory]
    [InlineData("Dockerfile.gpu", "FuseDream.Worker", "cuda")]
    [InlineData("Dockerfile.api", "FuseDream.Api", "none")]
    public void Images_BuildTheirBackend_AndRunAsANonRootUser(string file, string project, string backend)
    {
        var dockerfile = Dockerfile(file);
        var publish = dockerfile.Lines.Single(l => l.Contains("dotnet publish", StringComparison.Ordinal));
        Assert.Contains($"dotnet publish {project} ", publish);
        Assert.Contains($"-p:TorchBackend={backend}", publish);
        var user = dockerfile.FinalStage.LastOrDefault(l => l.StartsWith("USER ", StringComparison.Ordinal));
        Assert.True(user is not null, $"{file}: the runtime stage runs as root (no USER instruction)");
        Assert.DoesNotContain(user.Split(' ', 2)[1].Trim(), new[] { "root", "0", "0:0" });
    }

    [Theory]
    [InlineData("cuda", "TorchSharp-cuda-linux", "libtorch-cpu-linux-x64")]
    [InlineData("cpu", "libtorch-cpu-linux-x64", "TorchSharp-cuda-linux")]
    public async Task Worker_TorchBackendProperty_PicksTheNativePackage(string backend, string wanted, string unwanted)
    {
        var psi = new ProcessStartInfo("dotnet",
            ["msbuild", Path.Combine(Repo, "FuseDream.Worker", "FuseDream.Worker.csproj"), "-getItem:PackageReference", $"-p:TorchBackend={backend}", "-nologo"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Repo,
        };
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, await stdout + await stderr);
        using var items = JsonDocument.Parse(await stdout);
        var packages = items.RootElement.GetProperty("Items").GetProperty("PackageReference").EnumerateArray()
            .Select(p => p.GetProperty("Identity").GetString()).ToList();
        Assert.Contains(wanted, packages);
        Assert.DoesNotContain(unwanted, packages);
    }

    // ---- reading the files -----------------------------------------------------------------

    private sealed record DockerfileText(IReadOnlyList<string> Lines, IReadOnlyList<string> FinalStage, IReadOnlyDictionary<string, string> Env);

    private static DockerfileText Dockerfile(string name)
    {
        // Join continuation lines, drop comments.
        var lines = new List<string>();
        var current = "";
        foreach (var raw in File.ReadAllLines(Path.Combine(Repo, name)))
        {
            var line = raw.Trim();
            if (line.StartsWith('#') || (line.Length == 0 && current.Length == 0)) continue;
            if (line.EndsWith('\\')) { current += line[..^1] + " "; continue; }
            lines.Add((current + line).Trim());
            current = "";
        }
        var finalStage = lines.Skip(lines.FindLastIndex(l => l.StartsWith("FROM ", StringComparison.Ordinal))).ToList();
        var env = new Dictionary<string, string>();
        foreach (var line in finalStage.Where(l => l.StartsWith("ENV ", StringComparison.Ordinal)))
            foreach (Match m in EnvPair().Matches(line[4..]))
                env[m.Groups[1].Value] = m.Groups[2].Value.Trim('"');
        return new DockerfileText(lines, finalStage, env);
    }

    [GeneratedRegex(@"([A-Za-z_][A-Za-z0-9_]*)=(""[^""]*""|\S+)")]
    private static partial Regex EnvPair();

    private sealed record Volume(string Source, string Target, bool ReadOnly);

    /// <summary>Just enough of YAML for this compose file: services, their scalar keys, lists and mappings.</summary>
    private sealed partial class ComposeFile
    {
        private readonly Dictionary<string, Dictionary<string, List<string>>> _services = [];

        public HashSet<string> NamedVolumes { get; } = [];

        public static ComposeFile Read(string path)
        {
            var file = new ComposeFile();
            string? top = null, service = null, key = null;
            foreach (var raw in File.ReadAllLines(path))
            {
                if (raw.TrimStart().StartsWith('#') || raw.Trim().Length == 0) continue;
                var indent = raw.Length - raw.TrimStart().Length;
                var line = raw.Trim();
                if (indent == 0) { top = line.TrimEnd(':'); continue; }
                if (top == "volumes" && indent == 2) { file.NamedVolumes.Add(line.TrimEnd(':')); continue; }
                if (top != "services") continue;
                if (indent == 2) { service = line.TrimEnd(':'); file._services[service] = []; continue; }
                if (indent == 4)
                {
                    var colon = line.IndexOf(':');
                    key = line[..colon];
                    file._services[service!][key] = [];
                    var rest = line[(colon + 1)..].Trim();
                    if (rest.Length > 0) file._services[service!][key].Add(rest);
                    continue;
                }
                file._services[service!][key!].Add(new string(' ', indent - 6) + line);
            }
            return file;
        }

        public string Scalar(string service, string key) => _services[service][key].Single();

        public string Block(string service, string key) => string.Join('\n', _services[service].GetValueOrDefault(key) ?? []);

        public IReadOnlyList<string> List(string service, string key) =>
            [.. (_services[service].GetValueOrDefault(key) ?? []).Where(l => l.StartsWith("- ", StringComparison.Ordinal)).Select(l => Unquote(l[2..].Trim()))];

        public IReadOnlyDictionary<string, string> Environment(string service)
        {
            var result = new Dictionary<string, string>();
            foreach (var line in _services[service].GetValueOrDefault("environment") ?? [])
            {
                var (k, v) = line.StartsWith("- ", StringComparison.Ordinal)
                    ? (line[2..].Split('=', 2)[0], line[2..].Split('=', 2)[1])
                    : (line[..line.IndexOf(':')], line[(line.IndexOf(':') + 1)..]);
                result[k.Trim()] = Interpolate(Unquote(v.Trim()));
            }
            return result;
        }

        public IReadOnlyList<Volume> Volumes(string service) =>
            [.. List(service, "volumes").Select(v => Interpolate(v).Split(':')).Select(p => new Volume(p[0], p[1], p.Length > 2 && p[2] == "ro"))];

        private static string Unquote(string value) => value.Length >= 2 && value[0] is '"' or '\'' && value[^1] == value[0] ? value[1..^1] : value;

        /// <summary>Compose's <c>${VAR:-default}</c> with nothing set: the default.</summary>
        private static string Interpolate(string value) => Default().Replace(value, m => m.Groups[1].Value);

        [GeneratedRegex(@"\$\{[A-Za-z_][A-Za-z0-9_]*:-([^}]*)\}")]
        private static partial Regex Default();
    }
}
