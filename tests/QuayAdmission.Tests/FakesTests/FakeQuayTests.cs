using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Time.Testing;
using QuayAdmission.Tests.Fakes;
using QuayAdmission.Tests.Support;

namespace QuayAdmission.Tests.FakesTests;

/// <summary>The fake Quay must accept exactly the tokens real Quay would, and fail the ways tests ask it to.</summary>
public sealed class FakeQuayTests : IAsyncLifetime
{
    private const string Robot = "acme+puller";
    private const string Subject = "system:serviceaccount:team-a:builder";

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2030, 1, 2, 3, 4, 5, TimeSpan.Zero));
    private readonly HttpClient _http = new();
    private FakeKubernetesApi _api = null!;
    private FakeQuay _quay = null!;

    public async Task InitializeAsync()
    {
        _api = await FakeKubernetesApi.StartAsync(_time);
        _quay = await FakeQuay.StartAsync(_time);
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _quay.DisposeAsync();
        await _api.DisposeAsync();
    }

    [Fact]
    public async Task Trusted_service_account_token_is_exchanged_for_a_robot_token()
    {
        _quay.TrustSubject(Robot, _api.Issuer, Subject);
        var saToken = await ServiceAccountTokenAsync(audience: _quay.Host);

        using var response = await ExchangeAsync(_http, _quay, Robot, saToken);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var robotToken = FakeJwt.Parse((await ReadJsonAsync(response))["token"]!.GetValue<string>());
        Assert.Equal(Robot, robotToken.Subject);
        Assert.Equal(_time.GetUtcNow().AddHours(1).ToUnixTimeSeconds(), robotToken.ExpiresAt!.Value.ToUnixTimeSeconds());

        var exchange = Assert.Single(_quay.Exchanges);
        Assert.True(exchange.Succeeded);
        Assert.Equal((Robot, Subject, _api.Issuer), (exchange.Robot, exchange.Subject, exchange.Issuer));
        Assert.Equal([_quay.Host], exchange.Audiences);
        Assert.Equal(1, _api.Count("jwks"));
        Assert.Equal(1, _api.TotalCount); // the TokenRequest; Quay's discovery and JWKS fetches are not the webhook's
    }

    [Fact]
    public async Task Untrusted_expired_or_missing_credentials_are_refused()
    {
        _quay.TrustSubject(Robot, _api.Issuer, "system:serviceaccount:team-a:someone-else");
        var saToken = await ServiceAccountTokenAsync(audience: _quay.Host);

        using var untrusted = await ExchangeAsync(_http, _quay, Robot, saToken);
        Assert.Equal(HttpStatusCode.BadRequest, untrusted.StatusCode);
        Assert.Equal("Federation config does not match the issuer and subject of the token", (await ReadJsonAsync(untrusted))["message"]!.GetValue<string>());

        _quay.TrustSubject(Robot, _api.Issuer, Subject);
        _time.Advance(TimeSpan.FromMinutes(11));
        using var expired = await ExchangeAsync(_http, _quay, Robot, saToken);
        Assert.Equal(HttpStatusCode.BadRequest, expired.StatusCode);
        Assert.Contains("expired", (await ReadJsonAsync(expired))["message"]!.GetValue<string>(), StringComparison.Ordinal);

        using var anonymous = await _http.GetAsync(new Uri(_quay.BaseAddress, FakeQuay.ExchangePath));
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);

        Assert.Equal(3, _quay.ExchangeCount);
        Assert.All(_quay.Exchanges, e => Assert.False(e.Succeeded));
        Assert.DoesNotContain(_quay.Exchanges, e => e.Error?.Contains(saToken, StringComparison.Ordinal) == true);
    }

    [Fact]
    public async Task Tokens_are_judged_as_Quay_judges_them_skew_nbf_iat_and_what_is_its_own_failure()
    {
        _quay.TrustSubject(Robot, _api.Issuer, Subject);
        var now = _time.GetUtcNow();
        string Token(long? iat, long nbf, long exp)
        {
            var claims = new JsonObject { ["iss"] = _api.Issuer, ["sub"] = Subject, ["aud"] = new JsonArray(_quay.Host), ["nbf"] = nbf, ["exp"] = exp };
            if (iat is { } issued)
                claims["iat"] = issued;
            return _api.SignToken(claims);
        }
        var t = now.ToUnixTimeSeconds();


        // exp 20 s ago is within Quay's 30 s of skew; nbf in the future is not looked at.
        using var skewed = await ExchangeAsync(_http, _quay, Robot, Token(t - 600, t + 300, t - 20));
        Assert.Equal(HttpStatusCode.OK, skewed.StatusCode);
        using var tooLate = await ExchangeAsync(_http, _quay, Robot, Token(t - 600, t - 600, t - 31));
        Assert.Equal(HttpStatusCode.BadRequest, tooLate.StatusCode);
        using var noIat = await ExchangeAsync(_http, _quay, Robot, Token(null, t, t + 600));
        Assert.Equal(HttpStatusCode.BadRequest, noIat.StatusCode);
        Assert.Contains("iat", (await ReadJsonAsync(noIat))["message"]!.GetValue<string>(), StringComparison.Ordinal);
        using var garbled = await ExchangeAsync(_http, _quay, Robot, "not-a-jwt");
        Assert.Equal(HttpStatusCode.InternalServerError, garbled.StatusCode);
        using var robotWithoutPlus = await ExchangeAsync(_http, _quay, "acme", Token(t, t, t + 600));
        Assert.Equal(HttpStatusCode.Unauthorized, robotWithoutPlus.StatusCode);
    }

    [Fact]
    public async Task A_rate_limit_in_front_answers_429_with_retry_after()
    {
        _quay.Behaviour = QuayBehaviour.RateLimited(TimeSpan.FromSeconds(42));

        using var limited = await ExchangeAsync(_http, _quay, Robot, "whatever");

        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(42), limited.Headers.RetryAfter?.Delta);
    }

    [Fact]
    public async Task Behaviours_replace_the_answer_and_are_counted()
    {
        _quay.TrustSubject(Robot, _api.Issuer, Subject);
        var saToken = await ServiceAccountTokenAsync(audience: _quay.Host);

        _quay.Behaviour = QuayBehaviour.Status(500, """{"error":"internal"}""");
        using (var failed = await ExchangeAsync(_http, _quay, Robot, saToken))
        {
            Assert.Equal(HttpStatusCode.InternalServerError, failed.StatusCode);
        }

        _quay.Behaviour = QuayBehaviour.Garbage;
        using (var garbage = await ExchangeAsync(_http, _quay, Robot, saToken))
        {
            Assert.Equal("<html>oops", await garbage.Content.ReadAsStringAsync());
        }

        _quay.Behaviour = QuayBehaviour.TokenWithoutExp;
        using (var noExp = await ExchangeAsync(_http, _quay, Robot, saToken))
        {
            Assert.Null(FakeJwt.Parse((await ReadJsonAsync(noExp))["token"]!.GetValue<string>()).ExpiresAt);
        }

        _quay.Behaviour = QuayBehaviour.Never;
        using var giveUp = new CancellationTokenSource();
        var hanging = ExchangeAsync(_http, _quay, Robot, saToken, giveUp.Token);
        await _quay.WaitForExchangesAsync(4).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(hanging.IsCompleted);
        await giveUp.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => hanging);

        Assert.Equal(4, _quay.ExchangeCount);
    }

    [Fact]
    public async Task Https_quay_is_trusted_through_its_ca_file()
    {
        await using var quay = await FakeQuay.StartAsync(_time, https: true);
        quay.TrustSubject(Robot, _api.Issuer, Subject);
        var caFile = quay.WriteCaFile(Path.Combine(Path.GetTempPath(), $"fake-quay-ca-{Guid.NewGuid():N}.pem"));
        try
        {
            using var ca = X509CertificateLoader.LoadCertificate(Encoding.ASCII.GetBytes(await File.ReadAllTextAsync(caFile)));
            var chain = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
            chain.CustomTrustStore.Add(ca);
            using var http = new HttpClient(new SocketsHttpHandler { SslOptions = { CertificateChainPolicy = chain } });

            using var response = await ExchangeAsync(http, quay, Robot, await ServiceAccountTokenAsync(audience: quay.Host));

            Assert.Equal("https", quay.BaseAddress.Scheme);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        finally
        {
            File.Delete(caFile);
        }
    }

    [Fact]
    public async Task Keys_of_an_issuer_that_cannot_be_discovered_come_from_the_https_jwks_it_is_given()
    {
        // As a real API server: the issuer names a cluster-internal host; the JWKS is served on loopback over its own CA.
        const string issuer = "https://kubernetes.default.svc.cluster.local";
        using var key = RSA.Create(2048);
        using var tls = TlsChain.Create();
        using var otherTls = TlsChain.Create();
        var jwks = new JsonObject { ["keys"] = new JsonArray(FakeJwt.PublicJwk(key, FakeJwt.KeyIdOf(key))) }.ToJsonString();
        await using var apiServer = await LoopbackServer.StartAsync(
            context => context.Request.Path == "/openid/v1/jwks" ? context.Response.WriteAsync(jwks) : Task.CompletedTask,
            tls.Leaf,
            CancellationToken.None,
            chain: [tls.Intermediate]);
        _quay.TrustSubject(Robot, issuer, Subject);
        var now = _time.GetUtcNow();
        var saToken = FakeJwt.SignRs256(key, FakeJwt.KeyIdOf(key), new JsonObject
        {
            ["iss"] = issuer,
            ["sub"] = Subject,
            ["aud"] = new JsonArray(_quay.Host),
            ["iat"] = now.ToUnixTimeSeconds(),
            ["nbf"] = now.ToUnixTimeSeconds(),
            ["exp"] = now.AddMinutes(10).ToUnixTimeSeconds(),
        });

        // An issuer whose keys Quay cannot fetch is Quay's own failure: 500, the detail in its log only.
        using (var undiscoverable = await ExchangeAsync(_http, _quay, Robot, saToken))
        {
            Assert.Equal(HttpStatusCode.InternalServerError, undiscoverable.StatusCode);
            Assert.Contains("not on loopback", _quay.Exchanges[^1].Error, StringComparison.Ordinal);
        }

        _quay.TrustIssuerKeys(issuer, new Uri(apiServer.BaseAddress, "openid/v1/jwks"), otherTls.Root);
        using (var untrustedServer = await ExchangeAsync(_http, _quay, Robot, saToken))
        {
            Assert.Equal(HttpStatusCode.InternalServerError, untrustedServer.StatusCode);
            Assert.Equal($"Invalid token: could not fetch the signing keys of {issuer}", _quay.Exchanges[^1].Error);
        }

        _quay.TrustIssuerKeys(issuer, new Uri(apiServer.BaseAddress, "openid/v1/jwks"), tls.Root);
        using var exchanged = await ExchangeAsync(_http, _quay, Robot, saToken);
        Assert.Equal(HttpStatusCode.OK, exchanged.StatusCode);
        Assert.Throws<ArgumentException>(() => _quay.TrustIssuerKeys(issuer, new Uri("https://kubernetes.default.svc.cluster.local/openid/v1/jwks"), tls.Root));
    }

    [Fact]
    public async Task The_signing_key_written_as_public_pem_verifies_the_robot_tokens()
    {
        _quay.TrustSubject(Robot, _api.Issuer, Subject);
        using var response = await ExchangeAsync(_http, _quay, Robot, await ServiceAccountTokenAsync(audience: _quay.Host));
        var robotToken = FakeJwt.Parse((await ReadJsonAsync(response))["token"]!.GetValue<string>());
        var pemFile = Path.Combine(Path.GetTempPath(), $"fake-quay-pub-{Guid.NewGuid():N}.pem");
        try
        {
            var pem = await File.ReadAllTextAsync(_quay.WriteSigningKeyPem(pemFile));
            Assert.StartsWith("-----BEGIN PUBLIC KEY-----", pem, StringComparison.Ordinal);
            using var publicKey = RSA.Create();
            publicKey.ImportFromPem(pem);
            Assert.True(publicKey.VerifyData(Encoding.ASCII.GetBytes(robotToken.SigningInput), robotToken.Signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));
        }
        finally
        {
            File.Delete(pemFile);
        }
    }

    private async Task<string> ServiceAccountTokenAsync(string audience)
    {
        using var client = new k8s.Kubernetes(_api.ClientConfiguration());
        var request = new Authenticationv1TokenRequest { Spec = new V1TokenRequestSpec { Audiences = [audience], ExpirationSeconds = 600 } };
        return (await client.CoreV1.CreateNamespacedServiceAccountTokenAsync(request, "builder", "team-a")).Status.Token;
    }

    private static async Task<HttpResponseMessage> ExchangeAsync(HttpClient http, FakeQuay quay, string robot, string jwt, CancellationToken ct = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(quay.BaseAddress, FakeQuay.ExchangePath));
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{robot}:{jwt}")));
        return await http.SendAsync(request, ct);
    }

    private static async Task<JsonObject> ReadJsonAsync(HttpResponseMessage response) =>
        JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
}
