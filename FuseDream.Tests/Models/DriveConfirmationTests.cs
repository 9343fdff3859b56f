using FuseDream.Models;

namespace FuseDream.Tests.Models;

/// <summary>The Drive pages as they have looked over time (the form one is also served end to end in the pull tests).</summary>
public sealed class DriveConfirmationTests
{
    private static readonly Uri Page = new("https://drive.google.com/uc?export=download&id=FILEID");

    [Fact]
    public void FormPage_LeadsToTheFormActionWithItsHiddenFields()
    {
        const string html = """
            <html><head><title>Google Drive - Virus scan warning</title></head><body>
            <form id="download-form" action="https://drive.usercontent.google.com/download" method="get">
            <input type="submit" id="uc-download-link" value="Download anyway"/>
            <input type="hidden" name="id" value="FILEID"><input type="hidden" name="export" value="download">
            <input type="hidden" name="confirm" value="t"><input type="hidden" name="uuid" value="u-1&amp;2"></form></body></html>
            """;

        var next = DriveConfirmation.TryFindDownloadUrl(html, Page);

        Assert.Equal("https://drive.usercontent.google.com/download?id=FILEID&export=download&confirm=t&uuid=u-1%262", next!.AbsoluteUri);
        Assert.Equal("Google Drive - Virus scan warning", DriveConfirmation.Title(html));
    }

    [Fact]
    public void LinkPage_LeadsToTheConfirmLink()
    {
        const string html = """<a id="uc-download-link" class="goog-inline-block jfk-button" href="/uc?export=download&amp;confirm=Xy_9-z&amp;id=FILEID">Download anyway</a>""";

        var next = DriveConfirmation.TryFindDownloadUrl(html, Page);

        Assert.Equal("https://drive.google.com/uc?export=download&confirm=Xy_9-z&id=FILEID", next!.AbsoluteUri);
    }

    [Fact]
    public void PageWithoutConfirmation_GivesNothing()
    {
        const string html = "<html><head><title>Sign in</title></head><body><form action=\"/login\" method=\"post\"><input name=\"user\"></form></body></html>";

        Assert.Null(DriveConfirmation.TryFindDownloadUrl(html, Page));
        Assert.Equal("Sign in", DriveConfirmation.Title(html));
    }
}
