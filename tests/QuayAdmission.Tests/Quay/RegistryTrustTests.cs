using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using QuayAdmission.Hosting;
using QuayAdmission.Tests.Fakes;
using QuayAdmission.Tests.Support;

namespace QuayAdmission.Tests.Quay;

/// <summary>A registry's CaFile is trusted for that registry only.</summary>
public sealed class RegistryTrustTests : IDisposable
{
    private readonly string caFile = Path.Combine(Path.GetTempPath(), $"quay-ca-{Guid.NewGuid():N}.pem");

    public void Dispose() => File.Delete(caFile);

    [Fact]
    public async Task Exchange_over_https_trusts_the_registrys_ca_and_no_other()
    {
        var quay = await FakeQuay.StartAsync(TimeProvider.System, https: true);
        quay.WriteCaFile(caFile);
        // The same TLS server under a second name, configured without the CA: it must not be trusted.
        var untrustedHost = $"localhost:{quay.BaseAddress.Port}";
        await using var host = await WebhookHost.StartAsync(
            new Dictionary<string, string?>
            {
                ["QuayAdmission:Registries:0:CaFile"] = caFile,
                ["QuayAdmission:Registries:1:Host"] = untrustedHost,
                ["QuayAdmission:Registries:1:FederationUrl"] = $"https://localhost:{quay.BaseAddress.Port}/",
            },
            quay: quay);
        host.Trust("acme+puller");

        var trusted = await host.AdmitAsync(Pods.Json());
        Assert.Empty(trusted.Warnings);
        Assert.Equal(1, quay.ExchangeCount);

        var untrusted = await host.AdmitAsync(Pods.Json(robotAccount: $"{untrustedHost}/acme+puller"));
        Assert.Contains("unreachable", Assert.Single(untrusted.Warnings), StringComparison.Ordinal);
        Assert.Equal(1, quay.ExchangeCount);
    }

    [Fact]
    public async Task A_missing_ca_file_fails_at_start() =>
        Assert.Contains("CaFile", await StartFailureAsync("QuayAdmission:Registries:0:CaFile", "/nonexistent/ca.pem"), StringComparison.Ordinal);

    [Theory]
    [InlineData("QuayAdmission:Registries:0:Host", "https://quay.io")]
    [InlineData("QuayAdmission:InlineBudget", "00:01:00")]
    [InlineData("QuayAdmission:RefreshFraction", "1.5")]
    [InlineData("QuayAdmission:OnTokenFailure", "Maybe")]
    [InlineData("QuayAdmission:Tls:CertFile", "/only/the/cert.pem")]
    [InlineData("QuayAdmission:Refresher:RenewDeadline", "00:05:00")]
    [InlineData("QuayAdmission:Server:BindAddress", "everywhere")]
    public async Task Bad_configuration_fails_at_start(string key, string value) =>
        Assert.Contains(key.Split(':')[^1], await StartFailureAsync(key, value), StringComparison.Ordinal);

    /// <summary>
    /// Starts the real composition root with one bad setting and returns why it refused. Built directly
    /// rather than through WebApplicationFactory, whose deferred host can hide a start failure behind ObjectDisposedException.
    /// </summary>
    private static async Task<string> StartFailureAsync(string key, string value)
    {
        var builder = WebApplication.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["QuayAdmission:Registries:0:Host"] = "quay.io",
            ["QuayAdmission:Refresher:Enabled"] = "false",
            [key] = value,
        });
        builder.WebHost.UseTestServer();
        builder.AddQuayAdmission();
        // Never called: the configuration must be refused before anything talks to an API.
        builder.Services.AddSingleton(new k8s.KubernetesClientConfiguration { Host = "http://127.0.0.1:9" });
        var error = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var app = builder.Build();
            await app.StartAsync();
        });
        return error.ToString();
    }
}
