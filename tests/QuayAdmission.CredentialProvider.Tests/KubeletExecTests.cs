using System.Text.Json.Nodes;
using QuayAdmission.Tests.Fakes;
using QuayAdmission.Tests.Manifests;
using Xunit.Abstractions;

namespace QuayAdmission.CredentialProvider.Tests;

/// <summary>The plugin exec'd as the kubelet does, against the Quay stand-ins over TLS.</summary>
public sealed class KubeletExecTests(ITestOutputHelper output) : IAsyncLifetime
{
    private ProviderWorld world = null!;

    public async Task InitializeAsync()
    {
        world = await ProviderWorld.StartAsync();
        output.WriteLine(ProviderBinary.IsNative ? "running the native binary" : "running the JIT build (no native binary named outside CI)");
    }

    public async Task DisposeAsync() => await world.DisposeAsync();

    [Fact]
    public async Task A_trusted_service_account_gets_the_robot_token_for_the_registry()
    {
        world.Trust();
        var token = await world.TokenAsync();

        var run = await world.RunAsync(ProviderWorld.Request($"{world.Quay.Host}/acme/app:1.0", token, ProviderWorld.Annotated(ProviderWorld.Robot)));

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("", run.Stderr);
        var response = JsonNode.Parse(run.Stdout)!.AsObject();
        Assert.Equal("credentialprovider.kubelet.k8s.io/v1", (string?)response["apiVersion"]);
        Assert.Equal("CredentialProviderResponse", (string?)response["kind"]);
        Assert.Equal("Registry", (string?)response["cacheKeyType"]);
        var (key, auth) = Assert.Single(response["auth"]!.AsObject());
        Assert.Equal(world.Quay.Host, key);
        var exchange = Assert.Single(world.Quay.Exchanges);
        Assert.True(exchange.Succeeded);
        Assert.Equal((ProviderWorld.Robot, ProviderWorld.Subject), (exchange.Robot, exchange.Subject));
        Assert.Equal(ProviderWorld.Robot, (string?)auth!["username"]);
        Assert.Equal(exchange.IssuedToken, (string?)auth["password"]);
        // One hour of life less MinRemaining (10 min), less the second or two the exchange took.
        Assert.InRange(GoDuration.Parse((string)response["cacheDuration"]!), TimeSpan.FromMinutes(49), TimeSpan.FromMinutes(50));
        Assert.Equal(0, world.Second.ExchangeCount);
    }

    [Fact]
    public async Task Configuration_from_environment_variables_alone_serves_too()
    {
        world.Trust();
        var token = await world.TokenAsync();
        var registry = world.Registry(world.Quay, "env-ca.pem");
        var environment = new Dictionary<string, string>
        {
            ["QuayAdmission__Registries__0__Host"] = (string)registry["Host"]!,
            ["QuayAdmission__Registries__0__FederationUrl"] = (string)registry["FederationUrl"]!,
            ["QuayAdmission__Registries__0__CaFile"] = (string)registry["CaFile"]!,
            ["QuayAdmission__MinRemaining"] = "00:50:00",
        };

        var run = await ProviderBinary.RunAsync(ProviderWorld.Request($"{world.Quay.Host}/acme/app", token, ProviderWorld.Annotated(ProviderWorld.Robot)), [], environment);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.InRange(GoDuration.Parse((string)JsonNode.Parse(run.Stdout)!["cacheDuration"]!), TimeSpan.FromMinutes(9), TimeSpan.FromMinutes(10));
    }

    [Fact]
    public async Task Environment_variables_override_the_file()
    {
        world.Trust();
        var token = await world.TokenAsync();

        var run = await world.RunAsync(
            ProviderWorld.Request($"{world.Quay.Host}/acme/app", token, ProviderWorld.Annotated(ProviderWorld.Robot)),
            new Dictionary<string, string> { ["QuayAdmission__MinRemaining"] = "00:30:00" });

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.InRange(GoDuration.Parse((string)JsonNode.Parse(run.Stdout)!["cacheDuration"]!), TimeSpan.FromMinutes(29), TimeSpan.FromMinutes(30));
    }

    public static TheoryData<string, string> QuayFailures => new()
    {
        { "untrusted", "Federation config does not match the issuer and subject of the token" },
        { "500", "Quay answered 500: internal" },
        { "garbage", "Quay answered 200 without a token" },
        { "no-exp", "without an exp claim" },
        { "reset", "unreachable" },
        { "never", "did not answer in time" },
    };

    [Theory]
    [MemberData(nameof(QuayFailures))]
    public async Task Each_quay_failure_is_one_line_on_stderr_and_a_non_zero_exit(string failure, string expected)
    {
        if (failure == "untrusted")
            world.Quay.TrustSubject(ProviderWorld.Robot, world.Kube.Issuer, "system:serviceaccount:team-a:someone-else");
        else
            world.Trust();
        world.Quay.Behaviour = failure switch
        {
            "500" => QuayBehaviour.Status(500, """{"error":"internal"}"""),
            "garbage" => QuayBehaviour.Garbage,
            "no-exp" => QuayBehaviour.TokenWithoutExp,
            "reset" => QuayBehaviour.Reset,
            "never" => QuayBehaviour.Never,
            _ => QuayBehaviour.Normal,
        };
        // Short only where Quay never answers: on a busy machine a cold TLS handshake alone can take seconds.
        world.WriteConfig(section => section["ExchangeTimeout"] = failure == "never" ? "00:00:02" : "00:00:30");
        var token = await world.TokenAsync();

        var run = await world.RunAsync(ProviderWorld.Request($"{world.Quay.Host}/acme/app", token, ProviderWorld.Annotated(ProviderWorld.Robot)));

        AssertRefused(run, expected, token);
        Assert.Equal(1, world.Quay.ExchangeCount);
    }

    [Theory]
    [InlineData("ghcr.io/acme/app:1.0", "ghcr.io")]
    [InlineData("nginx:1.27", "docker.io")]
    [InlineData("localhost/acme/app", "localhost")]
    public async Task An_image_on_a_registry_not_configured_is_refused(string image, string host)
    {
        world.Trust();
        var token = await world.TokenAsync();

        var run = await world.RunAsync(ProviderWorld.Request(image, token, ProviderWorld.Annotated(ProviderWorld.Robot)));

        AssertRefused(run, $"image registry \"{host}\" is not one of the configured registries ({world.Quay.Host}, {world.Second.Host})", token);
        Assert.Equal(0, world.Quay.ExchangeCount + world.Second.ExchangeCount);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_service_account_without_the_annotation_gets_empty_auth_not_cached(bool annotationsPresent)
    {
        var token = await world.TokenAsync();
        var annotations = annotationsPresent ? new Dictionary<string, string> { ["other.example/key"] = "x" } : null;

        var run = await world.RunAsync(ProviderWorld.Request($"{world.Quay.Host}/acme/app", token, annotations));

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("", run.Stderr);
        var response = JsonNode.Parse(run.Stdout)!;
        Assert.Empty(response["auth"]!.AsObject());
        Assert.Equal("0s", (string?)response["cacheDuration"]);
        Assert.Equal("Registry", (string?)response["cacheKeyType"]);
        Assert.Equal(0, world.Quay.ExchangeCount);
    }

    [Fact]
    public async Task With_several_robots_the_one_for_the_images_registry_is_used()
    {
        world.Trust("acme+first", world.Quay);
        world.Trust("acme+second", world.Second);
        var annotations = ProviderWorld.Annotated($"acme+first, {world.Second.Host}/acme+second");

        var second = await world.RunAsync(ProviderWorld.Request($"{world.Second.Host}/acme/app", await world.TokenAsync(world.Second.Host), annotations));
        var first = await world.RunAsync(ProviderWorld.Request($"{world.Quay.Host}/acme/app", await world.TokenAsync(world.Quay.Host), annotations));

        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.Equal("acme+second", (string?)JsonNode.Parse(second.Stdout)!["auth"]![world.Second.Host]!["username"]);
        Assert.Equal("acme+second", Assert.Single(world.Second.Exchanges).Robot);
        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.Equal("acme+first", (string?)JsonNode.Parse(first.Stdout)!["auth"]![world.Quay.Host]!["username"]);
        Assert.Equal("acme+first", Assert.Single(world.Quay.Exchanges).Robot);
    }

    [Fact]
    public async Task Robots_only_for_other_registries_give_empty_auth()
    {
        var run = await world.RunAsync(ProviderWorld.Request(
            $"{world.Quay.Host}/acme/app", await world.TokenAsync(), ProviderWorld.Annotated($"{world.Second.Host}/acme+second")));

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Empty(JsonNode.Parse(run.Stdout)!["auth"]!.AsObject());
        Assert.Equal(0, world.Quay.ExchangeCount + world.Second.ExchangeCount);
    }

    [Fact]
    public async Task Two_robots_for_the_same_registry_are_refused()
    {
        var token = await world.TokenAsync();

        var run = await world.RunAsync(ProviderWorld.Request($"{world.Quay.Host}/acme/app", token, ProviderWorld.Annotated("acme+one, acme+two")));

        AssertRefused(run, $"names 2 robots for {world.Quay.Host} (acme+one, acme+two)", token);
        Assert.Equal(0, world.Quay.ExchangeCount);
    }

    [Theory]
    [InlineData("Acme+Puller", "is not a valid Quay robot name")]
    [InlineData("evil.example.org/acme+puller", "registry \"evil.example.org\" is not allowed")]
    public async Task A_bad_annotation_is_refused_with_the_admission_rules(string annotation, string expected)
    {
        var token = await world.TokenAsync();

        var run = await world.RunAsync(ProviderWorld.Request($"{world.Quay.Host}/acme/app", token, ProviderWorld.Annotated(annotation)));

        AssertRefused(run, expected, token);
        Assert.Equal(0, world.Quay.ExchangeCount);
    }

    [Fact]
    public async Task A_token_for_another_audience_never_reaches_quay()
    {
        world.Trust();
        var token = await world.TokenAsync(audience: "sts.amazonaws.com");

        var run = await world.RunAsync(ProviderWorld.Request($"{world.Quay.Host}/acme/app", token, ProviderWorld.Annotated(ProviderWorld.Robot)));

        AssertRefused(run, "the ServiceAccount token is for audience \"sts.amazonaws.com\"", token);
        Assert.Equal(0, world.Quay.ExchangeCount);
    }

    /// <summary>Token lifetime at Quay, and the cacheDuration range the kubelet must get with MinRemaining = 10 min.</summary>
    public static TheoryData<int, int, int> CacheEdges => new()
    {
        { 60 * 60, 49 * 60, 50 * 60 },        // the usual hour
        { 10 * 60, 0, 0 },                    // exactly MinRemaining: nothing to cache
        { 9 * 60, 0, 0 },                     // less than MinRemaining: never negative
        { 10 * 60 + 90, 30, 90 },             // a minute and a half over
        { 2 * 3600 + 3 * 60 + 4 + 600, 2 * 3600 + 2 * 60, 2 * 3600 + 3 * 60 + 4 },  // 2h3m4s as Go writes it
    };

    [Theory]
    [MemberData(nameof(CacheEdges))]
    public async Task Cache_duration_is_the_tokens_life_less_min_remaining_never_negative(int lifetimeSeconds, int atLeastSeconds, int atMostSeconds)
    {
        world.Trust();
        world.Quay.TokenLifetime = TimeSpan.FromSeconds(lifetimeSeconds);
        var token = await world.TokenAsync();

        var run = await world.RunAsync(ProviderWorld.Request($"{world.Quay.Host}/acme/app", token, ProviderWorld.Annotated(ProviderWorld.Robot)));

        Assert.True(run.ExitCode == 0, run.ToString());
        var cacheDuration = (string)JsonNode.Parse(run.Stdout)!["cacheDuration"]!;
        Assert.Matches(@"^(\d+h\d+m\d+s|\d+m\d+s|\d+s)$", cacheDuration);
        Assert.InRange(GoDuration.Parse(cacheDuration), TimeSpan.FromSeconds(atLeastSeconds), TimeSpan.FromSeconds(atMostSeconds));
    }

    public static TheoryData<string, string> MalformedRequests => new()
    {
        { "", "no request on stdin" },
        { "not json at all TOKEN", "is not a CredentialProviderRequest JSON document (line 1, byte " },
        { """{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","image":"IMAGE","serviceAccountToken":"TOKEN" """, "is not a CredentialProviderRequest JSON document" },
        { "[1,2]", "is not a CredentialProviderRequest JSON document" },
        { "null", "the request on stdin is null" },
        { """{"apiVersion":"credentialprovider.kubelet.k8s.io/v1beta1","kind":"CredentialProviderRequest","image":"IMAGE","serviceAccountToken":"TOKEN"}""", "apiVersion \"credentialprovider.kubelet.k8s.io/v1beta1\" is not credentialprovider.kubelet.k8s.io/v1" },
        { """{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderResponse","image":"IMAGE","serviceAccountToken":"TOKEN"}""", "kind \"CredentialProviderResponse\" is not CredentialProviderRequest" },
        { """{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","image":"IMAGE"}""", "carries no serviceAccountToken" },
        { """{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","serviceAccountToken":"TOKEN"}""", "names no image" },
        { """{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","image":"IMAGE","serviceAccountToken":"TOKEN","serviceAccountToken":"other"}""", "is not a CredentialProviderRequest JSON document" },
        { """{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","image":"IMAGE","serviceAccountToken":"TOKEN","serviceAccountAnnotations":{"a":1}}""", "is not a CredentialProviderRequest JSON document" },
    };

    [Theory]
    [MemberData(nameof(MalformedRequests))]
    public async Task A_malformed_request_is_one_line_without_a_stack_trace(string template, string expected)
    {
        world.Trust();
        var token = await world.TokenAsync();
        var stdin = template.Replace("IMAGE", $"{world.Quay.Host}/acme/app", StringComparison.Ordinal).Replace("TOKEN", token, StringComparison.Ordinal);

        var run = await world.RunAsync(stdin);

        AssertRefused(run, expected, token);
        Assert.Equal(0, world.Quay.ExchangeCount);
    }

    [Fact]
    public async Task An_oversized_request_is_refused()
    {
        var token = await world.TokenAsync();
        var padding = new Dictionary<string, string> { ["padding.example/x"] = new string('x', 1024 * 1024) };

        var run = await world.RunAsync(ProviderWorld.Request($"{world.Quay.Host}/acme/app", token, padding));

        AssertRefused(run, "larger than 1048576 bytes", token);
    }

    [Fact]
    public async Task Insecure_configuration_is_refused_at_start()
    {
        world.WriteConfig(section => section["Registries"]![0]!["FederationUrl"] = $"http://{world.Quay.Host}/");
        var token = await world.TokenAsync();

        var run = await world.RunAsync(ProviderWorld.Request($"{world.Quay.Host}/acme/app", token, ProviderWorld.Annotated(ProviderWorld.Robot)));

        AssertRefused(run, "QuayAdmission:Registries:0:FederationUrl", token);
        Assert.Contains("must be https", run.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--verbose", "unknown argument \"--verbose\"")]
    [InlineData("--config=/nonexistent/quay.json", "--config \"/nonexistent/quay.json\" cannot be read")]
    public async Task Bad_arguments_are_one_line(string argument, string expected)
    {
        var token = await world.TokenAsync();

        var run = await ProviderBinary.RunAsync(ProviderWorld.Request($"{world.Quay.Host}/acme/app", token), [argument]);

        AssertRefused(run, expected, token);
    }

    [Fact]
    public async Task A_configuration_file_that_is_not_json_is_named()
    {
        await File.WriteAllTextAsync(world.ConfigFile, "QuayAdmission: {");

        var run = await world.RunAsync(ProviderWorld.Request($"{world.Quay.Host}/acme/app", await world.TokenAsync()));

        AssertRefused(run, $"--config \"{world.ConfigFile}\" is not JSON", secret: null);
    }

    /// <summary>What the kubelet must see for a refusal: a non-zero exit, nothing on stdout, one line naming the cause, and nothing secret.</summary>
    private void AssertRefused(ProviderRun run, string expected, string? secret)
    {
        output.WriteLine(run.ToString());
        Assert.NotEqual(0, run.ExitCode);
        Assert.Equal("", run.Stdout);
        var line = Assert.Single(run.StderrLines);
        Assert.StartsWith("quay-credential-provider: ", line, StringComparison.Ordinal);
        Assert.Contains(expected, line, StringComparison.Ordinal);
        Assert.DoesNotContain(" at ", line.Replace(" at most", "", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", line, StringComparison.Ordinal);
        if (secret is not null)
            Assert.DoesNotContain(secret, run.Stderr, StringComparison.Ordinal);
        foreach (var issued in world.Quay.Exchanges.Concat(world.Second.Exchanges).Select(e => e.IssuedToken).OfType<string>())
            Assert.DoesNotContain(issued, run.Stderr, StringComparison.Ordinal);
    }
}
