using FuseDream.Tests.Support;
using Microsoft.AspNetCore.Hosting;

namespace FuseDream.Tests.Api;

/// <summary>
/// The whole service with the real FuseDream pipeline (not the test pipeline) on the tiny
/// fixture models: random weights, CPU.
/// </summary>
public abstract class FixtureModelServiceFactory : ServiceFactory
{
    protected override bool UseTestPipeline => false;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseSetting("Models:Clip", Path.Combine(FixtureSets.Root, "clip", "clip_tiny_jit.pt"));
        builder.UseSetting("Models:BigGan256", Path.Combine(FixtureSets.Root, "biggan", "G256_tiny.pth"));
        builder.UseSetting("Models:Device", "cpu");
    }
}
