using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http;
using QuayAdmission.Tests.Support;

namespace QuayAdmission.Tests.Fakes;

/// <summary>
/// A local stand-in for Quay's robot federation endpoint, <c>GET /oauth2/federation/robot/token</c>,
/// served by Kestrel on 127.0.0.1 (optionally over HTTPS with its own CA). It checks what Quay checks:
/// Basic auth of <c>robot:kubernetes-jwt</c>, the JWT's RS256 signature against the issuer's JWKS
/// (found through OIDC discovery over HTTP, or at a JWKS address given with <see cref="TrustIssuerKeys"/>),
/// expiry, and that the robot trusts the (issuer, subject).
/// </summary>
public sealed partial class FakeQuay : IAsyncDisposable
{
    public const string ExchangePath = "/oauth2/federation/robot/token";

    /// <summary>The leeway Quay's JWT validation allows on <c>exp</c>.</summary>
    public static readonly TimeSpan ClockSkew = TimeSpan.FromSeconds(30);

    private const string UntrustedSubject = "Federation config does not match the issuer and subject of the token";

    private readonly TimeProvider _time;
    private readonly RSA _signingKey = RSA.Create(2048);
    private readonly HttpClient _jwksClient = new() { Timeout = TimeSpan.FromSeconds(10) };
    private readonly X509Certificate2? _caCertificate;
    private readonly X509Certificate2? _serverCertificate;

    private readonly Lock _gate = new();
    private readonly Dictionary<string, HashSet<(string Issuer, string Subject)>> _robots = [];
    private readonly Dictionary<string, Task<JsonArray?>> _jwksByIssuer = [];
    private readonly Dictionary<string, (Uri Jwks, HttpClient Client)> _jwksLocations = [];
    private readonly List<ExchangeRecord> _exchanges = [];
    private readonly List<(int Count, TaskCompletionSource Reached)> _waiters = [];
    private int _exchangeCount;
    private QuayBehaviour _behaviour = QuayBehaviour.Normal;
    private TimeSpan _tokenLifetime = TimeSpan.FromHours(1);
    private string? _expectedAudience;
    private LoopbackServer? _server;

    private FakeQuay(TimeProvider time, bool https)
    {
        _time = time;
        if (https)
        {
            (_caCertificate, _serverCertificate) = MakeCertificates();
        }
    }

    public static async Task<FakeQuay> StartAsync(TimeProvider time, bool https = false, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(time);
        var quay = new FakeQuay(time, https);
        try
        {
            quay._server = await LoopbackServer.StartAsync(quay.HandleAsync, quay._serverCertificate, ct);
            return quay;
        }
        catch
        {
            await quay.DisposeAsync();
            throw;
        }
    }

    /// <summary>e.g. https://127.0.0.1:41235/ (with the trailing slash).</summary>
    public Uri BaseAddress => Server.BaseAddress;

    /// <summary>host:port, as a registry's Host is configured, e.g. <c>127.0.0.1:41235</c>.</summary>
    public string Host => BaseAddress.Authority;

    /// <summary>Whether it serves HTTPS (its own CA, <see cref="CaCertificatePem"/>) rather than plain HTTP.</summary>
    public bool IsHttps => _caCertificate is not null;

    /// <summary>The CA that issued the HTTPS certificate (for 127.0.0.1 and localhost), as PEM.</summary>
    public string CaCertificatePem => (_caCertificate ?? throw new InvalidOperationException("started without https")).ExportCertificatePem();

    public string WriteCaFile(string path)
    {
        File.WriteAllText(path, CaCertificatePem);
        return path;
    }

    /// <summary>The current answer mode; <see cref="QuayBehaviour.Normal"/> unless a test changes it.</summary>
    public QuayBehaviour Behaviour
    {
        get => Locked(() => _behaviour);
        set => Locked(() => _behaviour = value ?? throw new ArgumentNullException(nameof(value)));
    }

    /// <summary>Lifetime of issued robot tokens; one hour, as Quay.</summary>
    public TimeSpan TokenLifetime
    {
        get => Locked(() => _tokenLifetime);
        set => Locked(() => _tokenLifetime = value);
    }

    /// <summary>When set, the presented token's <c>aud</c> must contain it (Quay's per-binding audience check).</summary>
    public string? ExpectedAudience
    {
        get => Locked(() => _expectedAudience);
        set => Locked(() => _expectedAudience = value);
    }

    /// <summary>Calls to the federation endpoint, failed ones included.</summary>
    public int ExchangeCount => Locked(() => _exchangeCount);

    public IReadOnlyList<ExchangeRecord> Exchanges => Locked(() => _exchanges.ToList());

    public void ResetCounts() => Locked(() =>
    {
        _exchangeCount = 0;
        _exchanges.Clear();
    });

    /// <summary>Completes once <see cref="ExchangeCount"/> reaches <paramref name="count"/>: lets a test act while an exchange hangs, without sleeping.</summary>
    public Task WaitForExchangesAsync(int count, CancellationToken ct = default)
    {
        lock (_gate)
        {
            if (_exchangeCount >= count)
            {
                return Task.CompletedTask;
            }

            var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((count, reached));
            return reached.Task.WaitAsync(ct);
        }
    }

    /// <summary>Creates the robot (<c>org+name</c>) if needed and lets tokens with this issuer and subject act as it.</summary>
    public void TrustSubject(string robot, string issuer, string subject) => Locked(() =>
    {
        AddRobotLocked(robot).Add((issuer, subject));
    });

    /// <summary>A robot without any federation configured.</summary>
    public void AddRobot(string robot) => Locked(() => AddRobotLocked(robot));

    /// <summary>
    /// Reads <paramref name="issuer"/>'s keys from <paramref name="jwks"/> (on loopback, HTTPS trusting
    /// <paramref name="ca"/> alone) instead of through OIDC discovery: a real API server's issuer,
    /// <c>https://kubernetes.default.svc.cluster.local</c>, names a host this machine cannot reach, while
    /// its JWKS is served at <c>https://127.0.0.1:6443/openid/v1/jwks</c>.
    /// </summary>
    public void TrustIssuerKeys(string issuer, Uri jwks, X509Certificate2 ca)
    {
        ArgumentNullException.ThrowIfNull(jwks);
        ArgumentNullException.ThrowIfNull(ca);
        if (!IsLoopback(jwks.ToString()))
        {
            throw new ArgumentException($"{jwks} is not on loopback; the fake Quay fetches keys only from 127.0.0.1", nameof(jwks));
        }

        var trust = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
        trust.CustomTrustStore.Add(X509CertificateLoader.LoadCertificate(ca.RawData));
        var client = new HttpClient(new SocketsHttpHandler { SslOptions = { CertificateChainPolicy = trust } }) { Timeout = TimeSpan.FromSeconds(10) };
        Locked(() =>
        {
            if (_jwksLocations.Remove(issuer, out var replaced))
            {
                replaced.Client.Dispose();
            }

            _jwksLocations[issuer] = (jwks, client);
            _jwksByIssuer.Remove(issuer);
        });
    }

    /// <summary>Writes the public half of the key robot tokens are signed with (PEM, SubjectPublicKeyInfo): what a registry checks pulls against.</summary>
    public string WriteSigningKeyPem(string path)
    {
        File.WriteAllText(path, _signingKey.ExportSubjectPublicKeyInfoPem());
        return path;
    }

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        _jwksClient.Dispose();
        foreach (var (_, client) in Locked(() => _jwksLocations.Values.ToList()))
        {
            client.Dispose();
        }

        _caCertificate?.Dispose();
        _serverCertificate?.Dispose();
        _signingKey.Dispose();
    }

    private LoopbackServer Server => _server ?? throw new InvalidOperationException("not started");

    private async Task HandleAsync(HttpContext context)
    {
        if (context.Request.Path != ExchangePath || !HttpMethods.IsGet(context.Request.Method))
        {
            await WriteAsync(context, 404, Error("not found"));
            return;
        }

        Locked(() =>
        {
            _exchangeCount++;
            _waiters.RemoveAll(w => _exchangeCount >= w.Count && w.Reached.TrySetResult());
        });
        var behaviour = Behaviour;
        switch (behaviour.Kind)
        {
            case QuayBehaviourKind.Status:
                Record(context.Request, behaviour.Code, null, "status set by the test");
                await WriteAsync(context, behaviour.Code, behaviour.Body);
                return;
            case QuayBehaviourKind.RateLimited:
                Record(context.Request, 429, null, "rate limited");
                context.Response.Headers.RetryAfter = ((int)Math.Ceiling(behaviour.Duration.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
                await WriteAsync(context, 429, Error("Too Many Requests"));
                return;
            case QuayBehaviourKind.Garbage:
                Record(context.Request, 200, null, "garbage set by the test");
                context.Response.ContentType = "text/html";
                await context.Response.WriteAsync("<html>oops", context.RequestAborted);
                return;
            case QuayBehaviourKind.Never:
                Record(context.Request, 0, null, "never answers");
                await Server.WaitAsync(Timeout.InfiniteTimeSpan, context.RequestAborted);
                context.Abort();
                return;
            case QuayBehaviourKind.Reset:
                Record(context.Request, 0, null, "connection reset");
                context.Abort();
                return;
            case QuayBehaviourKind.Delay when !await Server.WaitAsync(behaviour.Duration, context.RequestAborted):
                Record(context.Request, 0, null, "client left during the delay");
                context.Abort();
                return;
        }

        var (code, error, token) = await ExchangeAsync(context.Request, withExp: behaviour.Kind != QuayBehaviourKind.TokenWithoutExp);
        // A 500 is Quay's own failure: what went wrong is in its log (the exchange record), not in the answer.
        Record(context.Request, code, token, error);
        await WriteAsync(context, code, token is not null ? new JsonObject { ["token"] = token }.ToJsonString() : Error(code == 500 ? "Internal Server Error" : error!));
    }

    /// <summary>
    /// Quay's checks, in Quay's order, with its messages (<c>{"message": ...}</c>): 401 for a robot name
    /// without <c>+</c> (and a missing or unreadable Basic header), 400 for every refusal, 500 where Quay
    /// itself fails (a token it cannot parse, an issuer whose keys it cannot fetch). As Quay's JWT
    /// library is set: 30 s of clock skew allowed, <c>nbf</c> not checked, <c>iat</c> required.
    /// </summary>
    private async Task<(int Code, string? Error, string? Token)> ExchangeAsync(HttpRequest request, bool withExp)
    {
        if (!TryReadBasic(request, out var robot, out var jwt, out var headerError))
        {
            return (401, headerError, null);
        }

        if (!RobotName().IsMatch(robot))
        {
            return (401, "Invalid robot", null);
        }

        var trusted = Locked(() => _robots.TryGetValue(robot, out var pairs) ? pairs.ToList() : null);
        if (trusted is null)
        {
            return (400, $"Could not find robot with username: {robot}", null);
        }

        if (!FakeJwt.TryParse(jwt, out var presented))
        {
            // Quay reads the issuer before it validates anything, and that read is not guarded.
            return (500, "Invalid token: Not enough segments", null);
        }

        if (presented.Issuer is not { } issuer)
        {
            return (400, "Token does not contain issuer", null);
        }

        if (trusted.Count == 0)
        {
            return (400, "Robot does not have federated login configured", null);
        }

        if (!trusted.Exists(t => t.Issuer == issuer))
        {
            return (400, $"issuer {issuer} not configured for this robot", null);
        }

        var (keyError, unreachable) = await VerifySignatureAsync(presented, issuer);
        if (keyError is not null)
        {
            return (unreachable ? 500 : 400, $"Invalid token: {keyError}", null);
        }

        var now = _time.GetUtcNow();
        if (presented.ExpiresAt is not { } expires)
        {
            return (400, "Invalid token: Token is missing the \"exp\" claim", null);
        }

        if (expires + ClockSkew <= now)
        {
            return (400, "Invalid token: Signature has expired", null);
        }

        if (presented.IssuedAt is null)
        {
            return (400, "Invalid token: Token is missing the \"iat\" claim", null);
        }

        if (ExpectedAudience is { } audience && !presented.Audiences.Contains(audience))
        {
            return (400, "Token audience is not allowed for this robot", null);
        }

        if (!trusted.Contains((issuer, presented.Subject ?? "")))
        {
            return (400, UntrustedSubject, null);
        }

        return (200, null, IssueToken(robot, now, withExp));
    }

    private string IssueToken(string robot, DateTimeOffset now, bool withExp)
    {
        var claims = new JsonObject
        {
            ["iss"] = BaseAddress.ToString().TrimEnd('/'),
            ["aud"] = Host,
            ["sub"] = robot,
            ["iat"] = now.ToUnixTimeSeconds(),
            ["nbf"] = now.ToUnixTimeSeconds(),
            ["jti"] = Guid.NewGuid().ToString("N"),
        };
        if (withExp)
        {
            claims["exp"] = (now + TokenLifetime).ToUnixTimeSeconds();
        }

        return FakeJwt.SignRs256(_signingKey, "fake-quay", claims);
    }

    /// <returns>null when the signature verifies, else why not, and whether it is Quay's own failure to reach the issuer.</returns>
    private async Task<(string? Error, bool Unreachable)> VerifySignatureAsync(DecodedJwt jwt, string issuer)
    {
        if (!IsLoopback(issuer) && JwksLocation(issuer) is null)
        {
            // The stand-in may only ever reach this machine.
            return ($"issuer {issuer} is not on loopback; the fake Quay fetches keys only from 127.0.0.1", true);
        }

        for (var attempt = 0; attempt < 2; attempt++)
        {
            // A key id missing from a cached JWKS may mean the issuer rotated keys: fetch once more.
            var keys = await KeysAsync(issuer, refresh: attempt > 0);
            if (keys is null)
            {
                return ($"could not fetch the signing keys of {issuer}", true);
            }

            if (keys.OfType<JsonObject>().FirstOrDefault(k => FakeJwt.Str(k, "kid") == jwt.KeyId) is { } jwk)
            {
                return (FakeJwt.VerifyRs256(jwt, jwk) ? null : "Signature verification failed", false);
            }
        }

        return ("Unable to find a signing key that matches the token's kid", false);
    }

    /// <summary>The issuer's JWKS keys, fetched once per issuer and shared by concurrent exchanges.</summary>
    private Task<JsonArray?> KeysAsync(string issuer, bool refresh)
    {
        lock (_gate)
        {
            if (refresh || !_jwksByIssuer.TryGetValue(issuer, out var keys) || keys.IsCompleted && keys.Result is null)
            {
                keys = FetchKeysAsync(issuer);
                _jwksByIssuer[issuer] = keys;
            }

            return keys;
        }
    }

    private async Task<JsonArray?> FetchKeysAsync(string issuer)
    {
        try
        {
            var ct = Server.Stopping;
            if (JwksLocation(issuer) is { } location)
            {
                return JsonNode.Parse(await location.Client.GetStringAsync(location.Jwks, ct))?["keys"] as JsonArray;
            }

            var discovery = JsonNode.Parse(await _jwksClient.GetStringAsync(new Uri($"{issuer.TrimEnd('/')}/.well-known/openid-configuration"), ct));
            if (discovery?["jwks_uri"]?.GetValue<string>() is not { } jwksUri || !IsLoopback(jwksUri))
            {
                return null;
            }

            return JsonNode.Parse(await _jwksClient.GetStringAsync(new Uri(jwksUri), ct))?["keys"] as JsonArray;
        }
        catch (Exception e) when (e is HttpRequestException or JsonException or InvalidOperationException or OperationCanceledException or UriFormatException)
        {
            return null;
        }
    }

    private static bool TryReadBasic(HttpRequest request, out string robot, out string jwt, out string error)
    {
        (robot, jwt, error) = ("", "", "");
        var header = request.Headers.Authorization.ToString();
        if (header.Length == 0)
        {
            error = "No auth header";
            return false;
        }

        if (!header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            error = "Invalid basic auth header";
            return false;
        }

        string decoded;
        try
        {
            decoded = Encoding.UTF8.GetString(Convert.FromBase64String(header["Basic ".Length..].Trim()));
        }
        catch (FormatException)
        {
            error = "Could not parse basic auth header";
            return false;
        }

        var colon = decoded.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0 || colon == decoded.Length - 1)
        {
            error = "Could not parse basic auth header";
            return false;
        }

        (robot, jwt) = (decoded[..colon], decoded[(colon + 1)..]);
        return true;
    }

    private void Record(HttpRequest request, int code, string? token, string? error)
    {
        // What the caller presented, read without trusting it; never a verdict on it.
        _ = TryReadBasic(request, out var robot, out var jwt, out _);
        _ = FakeJwt.TryParse(jwt, out var presented);
        var record = new ExchangeRecord(
            robot.Length > 0 ? robot : null,
            presented?.Subject,
            presented?.Issuer,
            presented?.Audiences ?? [],
            code == 200 && token is not null,
            token,
            code,
            error,
            _time.GetUtcNow());
        Locked(() => _exchanges.Add(record));
    }

    private static async Task WriteAsync(HttpContext context, int code, string body)
    {
        context.Response.StatusCode = code;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(body, context.RequestAborted);
    }

    private static string Error(string message) => new JsonObject { ["message"] = message }.ToJsonString();

    private (Uri Jwks, HttpClient Client)? JwksLocation(string issuer) =>
        Locked<(Uri, HttpClient)?>(() => _jwksLocations.TryGetValue(issuer, out var location) ? location : null);

    private static bool IsLoopback(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" && uri.IsLoopback;

    private HashSet<(string Issuer, string Subject)> AddRobotLocked(string robot)
    {
        if (!_robots.TryGetValue(robot, out var pairs))
        {
            _robots[robot] = pairs = [];
        }

        return pairs;
    }

    private TResult Locked<TResult>(Func<TResult> read)
    {
        lock (_gate)
        {
            return read();
        }
    }

    private void Locked(Action action)
    {
        lock (_gate)
        {
            action();
        }
    }

    /// <summary>A CA and a server certificate for 127.0.0.1 and localhost that it issued.</summary>
    private static (X509Certificate2 Ca, X509Certificate2 Server) MakeCertificates()
    {
        using var ca = TestCertificates.CreateAuthority("QuayAdmission fake Quay CA");
        return (TestCertificates.PublicPart(ca), TestCertificates.CreateServer(ca));
    }

    [GeneratedRegex("^[a-z0-9]+(?:[._-][a-z0-9]+)*\\+[a-z0-9]+(?:[._-][a-z0-9]+)*$")]
    private static partial Regex RobotName();
}
