using System.Buffers.Text;
using System.Text;
using QuayAdmission.CredentialProvider.Credentials;
using GoDurationFormat = QuayAdmission.CredentialProvider.Protocol.GoDuration;

namespace QuayAdmission.CredentialProvider.Tests;

/// <summary>The plugin's own small rules, in process; the protocol as a whole is tested through the binary.</summary>
public sealed class PureParts
{
    [Theory]
    [InlineData(0, "0s")]
    [InlineData(-90, "0s")]
    [InlineData(0.999, "0s")]
    [InlineData(59, "59s")]
    [InlineData(60, "1m0s")]
    [InlineData(3600, "1h0m0s")]
    [InlineData(2 * 3600 + 3 * 60 + 4.7, "2h3m4s")]
    [InlineData(49 * 3600, "49h0m0s")]
    public void Durations_are_written_as_go_writes_them(double seconds, string expected) =>
        Assert.Equal(expected, GoDurationFormat.Format(TimeSpan.FromSeconds(seconds)));

    [Theory]
    [InlineData("quay.io/acme/app:1.0", "quay.io")]
    [InlineData("quay.example.com:8443/acme/app@sha256:0123", "quay.example.com:8443")]
    [InlineData("localhost/acme/app", "localhost")]
    [InlineData("localhost:5000/app", "localhost:5000")]
    [InlineData("acme/app", "docker.io")]
    [InlineData("nginx", "docker.io")]
    [InlineData("/acme/app", "docker.io")]
    public void The_registry_is_the_first_part_when_it_looks_like_a_host(string image, string host) =>
        Assert.Equal(host, ImageReference.RegistryHost(image));

    [Theory]
    [InlineData("""{"aud":"quay.io"}""", new[] { "quay.io" })]
    [InlineData("""{"aud":["a","quay.io",3]}""", new[] { "a", "quay.io" })]
    [InlineData("""{"sub":"x"}""", new string[0])]
    public void The_audience_is_read_as_a_string_or_a_list(string claims, string[] expected) =>
        Assert.Equal(expected, ServiceAccountToken.Audiences($"e30.{Base64Url.EncodeToString(Encoding.UTF8.GetBytes(claims))}.c2ln"));

    [Theory]
    [InlineData("not-a-jwt")]
    [InlineData("a.!!!.c")]
    [InlineData("a.bm90IGpzb24.c")]
    public void A_token_that_is_not_a_jwt_is_named_without_being_echoed(string token)
    {
        var error = Assert.Throws<CredentialProviderException>(() => ServiceAccountToken.Audiences(token));
        Assert.DoesNotContain(token, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Stderr_text_is_one_bounded_line()
    {
        var line = OneLine.Of("first\nsecond\u202Ethird" + new string('x', 5000));
        Assert.DoesNotContain('\n', line);
        Assert.DoesNotContain('\u202E', line);
        Assert.True(line.Length <= 1003, line.Length.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }
}
