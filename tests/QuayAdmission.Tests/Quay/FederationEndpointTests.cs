using k8s;
using k8s.Models;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Testing;
using QuayAdmission.Quay;
using QuayAdmission.Tests.Fakes;
using QuayAdmission.Tests.Support;

namespace QuayAdmission.Tests.Quay;

/// <summary>
/// The Quay edge of the shared federation library: https only (unless explicitly allowed), the
/// FederationUrl's path kept, a CaFile of roots and intermediates, the server's own intermediates,
/// no redirects, bounded answers. Driven through QuayFederationClient against the Quay stand-in.
/// </summary>
public sealed class FederationEndpointTests : IAsyncLifetime
{
    private const string Robot = "acme+puller";
    private const string Subject = "system:serviceaccount:team-a:builder";

    private readonly DirectoryInfo temp = Directory.CreateTempSubdirectory("quay-admission-edge-");
    private FakeKubernetesApi api = null!;

    public async Task InitializeAsync() => api = await FakeKubernetesApi.StartAsync(TimeProvider.System);

    public async Task DisposeAsync()
    {
        await api.DisposeAsync();
        temp.Delete(recursive: true);
    }

    [Theory]
    [InlineData("https://quay.example.com/quay", "https://quay.example.com/quay/oauth2/federation/robot/token")]
    [InlineData("https://quay.example.com/quay/", "https://quay.example.com/quay/oauth2/federation/robot/token")]
    [InlineData("https://quay.example.com:8443", "https://quay.example.com:8443/oauth2/federation/robot/token")]
    [InlineData("https://quay.example.com/", "https://quay.example.com/oauth2/federation/robot/token")]
    [InlineData(null, "https://quay.io/oauth2/federation/robot/token")]
    public void The_token_endpoint_keeps_the_federation_path(string? federationUrl, string expected) =>
        Assert.Equal(expected, new RegistryOptions { Host = "quay.io", FederationUrl = federationUrl is null ? null : new Uri(federationUrl) }.TokenEndpoint.ToString());

    [Fact]
    public void Http_is_refused_unless_explicitly_allowed()
    {
        var options = Options("http://quay.example.com/");

        var problem = Assert.Single(QuayOptionsValidator.Problems(options));
        Assert.Contains("QuayAdmission:Registries:0:FederationUrl", problem, StringComparison.Ordinal);
        Assert.Contains("must be https", problem, StringComparison.Ordinal);
        Assert.Contains("AllowInsecureHttp", problem, StringComparison.Ordinal);

        options.AllowInsecureHttp = true;
        Assert.Empty(QuayOptionsValidator.Problems(options));
    }

    [Theory]
    [InlineData("ftp://quay.example.com/", "absolute https URL")]
    [InlineData("/relative", "absolute https URL")]
    [InlineData("https://robot:secret@quay.example.com/", "no user, query or fragment")]
    [InlineData("https://quay.example.com/?next=elsewhere", "no user, query or fragment")]
    public void Other_federation_urls_are_refused(string url, string reason) =>
        Assert.Contains(reason, Assert.Single(QuayOptionsValidator.Problems(Options(url))), StringComparison.Ordinal);

    [Fact]
    public void Allowed_http_is_logged_loudly_for_each_registry_that_uses_it()
    {
        var options = Options("http://127.0.0.1:1/");
        options.AllowInsecureHttp = true;
        options.Registries.Add(new RegistryOptions { Host = "quay.io" });
        var logger = new FakeLogger<QuayHttpClients>();

        using var clients = new QuayHttpClients(Microsoft.Extensions.Options.Options.Create(options), logger);

        var warning = Assert.Single(logger.Collector.GetSnapshot());
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.StartsWith("INSECURE", warning.Message, StringComparison.Ordinal);
        Assert.Contains("quay.example.com", warning.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("quay")]
    [InlineData("quay/")]
    public async Task A_federation_path_with_or_without_a_slash_reaches_the_endpoint(string path)
    {
        await using var quay = await FakeQuay.StartAsync(TimeProvider.System, "/quay");
        var options = Options(new Uri(quay.BaseAddress, path).ToString(), quay.Host);
        options.AllowInsecureHttp = true;

        var token = await ExchangeAsync(options, quay);

        Assert.True(token.ExpiresAt > DateTimeOffset.UtcNow);
        Assert.Equal(1, quay.ExchangeCount);
    }

    [Fact]
    public async Task The_servers_intermediates_complete_the_chain_to_the_configured_root()
    {
        using var pki = TlsChain.Create();
        await using var quay = await FakeQuay.StartAsync(TimeProvider.System, "", pki.Leaf, [pki.Intermediate]);
        var options = Options(quay.BaseAddress.ToString(), quay.Host, CaFile(pki.Root));

        await ExchangeAsync(options, quay);

        Assert.Equal(1, quay.ExchangeCount);
    }

    [Fact]
    public async Task Intermediates_in_the_ca_file_complete_a_chain_the_server_sends_without_them()
    {
        using var pki = TlsChain.Create();
        await using var quay = await FakeQuay.StartAsync(TimeProvider.System, "", pki.Leaf);
        var options = Options(quay.BaseAddress.ToString(), quay.Host, CaFile(pki.Intermediate, pki.Root));

        await ExchangeAsync(options, quay);

        Assert.Equal(1, quay.ExchangeCount);
    }

    [Fact]
    public async Task A_chain_missing_its_intermediate_is_refused_before_anything_is_sent()
    {
        using var pki = TlsChain.Create();
        await using var quay = await FakeQuay.StartAsync(TimeProvider.System, "", pki.Leaf);
        var options = Options(quay.BaseAddress.ToString(), quay.Host, CaFile(pki.Root));

        var error = await Assert.ThrowsAsync<TokenExchangeException>(() => ExchangeAsync(options, quay));

        Assert.Contains("unreachable", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, quay.ExchangeCount);
    }

    [Fact]
    public async Task Only_the_configured_root_is_trusted()
    {
        using var pki = TlsChain.Create();
        using var other = TlsChain.Create();
        await using var quay = await FakeQuay.StartAsync(TimeProvider.System, "", pki.Leaf, [pki.Intermediate]);
        var options = Options(quay.BaseAddress.ToString(), quay.Host, CaFile(other.Root));

        await Assert.ThrowsAsync<TokenExchangeException>(() => ExchangeAsync(options, quay));

        Assert.Equal(0, quay.ExchangeCount);
    }

    [Fact]
    public void An_intermediate_alone_cannot_anchor_trust()
    {
        using var pki = TlsChain.Create();

        var problem = Assert.Single(QuayOptionsValidator.Problems(Options("https://quay.example.com/", caFile: CaFile(pki.Intermediate))));

        Assert.Contains("QuayAdmission:Registries:0:CaFile", problem, StringComparison.Ordinal);
        Assert.Contains("no root", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_ca_file_for_an_http_url_is_refused()
    {
        using var pki = TlsChain.Create();
        var options = Options("http://quay.example.com/", caFile: CaFile(pki.Root));
        options.AllowInsecureHttp = true;

        Assert.Contains("FederationUrl is http", Assert.Single(QuayOptionsValidator.Problems(options)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Redirects_are_not_followed()
    {
        await using var quay = await FakeQuay.StartAsync(TimeProvider.System);
        // A server that sends every caller on to the real endpoint, token and all, if the client follows.
        await using var redirector = await LoopbackServer.StartAsync(
            context =>
            {
                context.Response.StatusCode = StatusCodes.Status307TemporaryRedirect;
                context.Response.Headers.Location = new Uri(quay.BaseAddress, FakeQuay.ExchangePath).ToString();
                return Task.CompletedTask;
            },
            certificate: null,
            CancellationToken.None);
        var options = Options(redirector.BaseAddress.ToString(), quay.Host);
        options.AllowInsecureHttp = true;

        var error = await Assert.ThrowsAsync<TokenExchangeException>(() => ExchangeAsync(options, quay));

        Assert.Contains("307", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, quay.ExchangeCount);
    }

    [Fact]
    public async Task An_oversized_answer_is_refused()
    {
        await using var quay = await FakeQuay.StartAsync(TimeProvider.System);
        quay.Behaviour = QuayBehaviour.Status(200, $$"""{"token":"{{new string('a', QuayHttpClients.MaxResponseBytes)}}"}""");
        var options = Options(quay.BaseAddress.ToString(), quay.Host);
        options.AllowInsecureHttp = true;

        var error = await Assert.ThrowsAsync<TokenExchangeException>(() => ExchangeAsync(options, quay));

        Assert.Equal($"Quay {quay.Host} answered more than {QuayHttpClients.MaxResponseBytes} bytes", error.Message);
    }

    private static QuayOptions Options(string federationUrl, string host = "quay.example.com", string? caFile = null) => new()
    {
        Registries = [new RegistryOptions { Host = host, FederationUrl = new Uri(federationUrl, UriKind.RelativeOrAbsolute), CaFile = caFile }],
        ExchangeTimeout = TimeSpan.FromSeconds(30),
    };

    private string CaFile(params System.Security.Cryptography.X509Certificates.X509Certificate2[] certificates) =>
        TlsChain.WritePem(Path.Combine(temp.FullName, $"ca-{Guid.NewGuid():N}.pem"), certificates);

    private async Task<QuayToken> ExchangeAsync(QuayOptions options, FakeQuay quay)
    {
        Assert.Empty(QuayOptionsValidator.Problems(options));
        quay.TrustSubject(Robot, api.Issuer, Subject);
        var registry = options.Registries[0];
        using var clients = new QuayHttpClients(Microsoft.Extensions.Options.Options.Create(options), NullLogger<QuayHttpClients>.Instance);
        return await new QuayFederationClient(clients).ExchangeAsync(registry, Robot, await ServiceAccountTokenAsync(registry.EffectiveAudience), CancellationToken.None);
    }

    private async Task<string> ServiceAccountTokenAsync(string audience)
    {
        using var client = new k8s.Kubernetes(api.ClientConfiguration());
        var request = new Authenticationv1TokenRequest { Spec = new V1TokenRequestSpec { Audiences = [audience], ExpirationSeconds = 600 } };
        return (await client.CoreV1.CreateNamespacedServiceAccountTokenAsync(request, "builder", "team-a")).Status.Token;
    }
}
