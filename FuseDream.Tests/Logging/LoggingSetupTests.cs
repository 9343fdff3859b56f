using FuseDream.Logging;

namespace FuseDream.Tests.Logging;

public class LoggingSetupTests
{
    [Theory]
    [InlineData(null, null, false)]          // a developer's terminal: readable lines
    [InlineData(null, "true", true)]         // the official .NET images set DOTNET_RUNNING_IN_CONTAINER
    [InlineData("json", null, true)]
    [InlineData(" JSON ", null, true)]
    [InlineData("text", "true", false)]      // asked for text inside a container
    [InlineData("", "true", true)]
    public void UseJson_FollowsTheVariable_ThenTheContainer(string? format, string? container, bool json)
    {
        var environment = new Dictionary<string, string?> { [LoggingSetup.FormatVariable] = format, ["DOTNET_RUNNING_IN_CONTAINER"] = container };
        Assert.Equal(json, LoggingSetup.UseJson(name => environment.GetValueOrDefault(name)));
    }

    [Fact]
    public void UseJson_UnknownFormat_SaysWhichValuesWork()
    {
        var error = Assert.Throws<InvalidOperationException>(() => LoggingSetup.UseJson(name => name == LoggingSetup.FormatVariable ? "xml" : null));
        Assert.Contains("FUSEDREAM_LOG_FORMAT must be 'text' or 'json' (got 'xml')", error.Message);
    }
}
