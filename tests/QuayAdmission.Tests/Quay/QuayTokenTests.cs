using System.Buffers.Text;
using System.Text;
using QuayAdmission.Quay;

namespace QuayAdmission.Tests.Quay;

public class QuayTokenTests
{
    private static string Jwt(string claims) =>
        $"{Base64Url.EncodeToString("""{"alg":"RS256"}"""u8)}.{Base64Url.EncodeToString(Encoding.UTF8.GetBytes(claims))}.c2ln";

    [Fact]
    public void Expiry_comes_from_exp() =>
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1_795_000_000), QuayToken.FromJwt(Jwt("""{"sub":"acme+puller","exp":1795000000}""")).ExpiresAt);

    [Theory]
    [InlineData("""{"sub":"acme+puller"}""")]
    [InlineData("""{"exp":"soon"}""")]
    [InlineData("""[1,2]""")]
    public void A_token_without_a_numeric_exp_is_a_clear_error(string claims)
    {
        var error = Assert.Throws<TokenExchangeException>(() => QuayToken.FromJwt(Jwt(claims)));
        Assert.Contains("exp", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("not-a-jwt")]
    [InlineData("a.!!!.c")]
    [InlineData("a.bm90IGpzb24.c")]
    public void Garbage_is_a_clear_error_without_echoing_it(string token)
    {
        var error = Assert.Throws<TokenExchangeException>(() => QuayToken.FromJwt(token));
        Assert.DoesNotContain(token, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ToString_hides_the_token() =>
        Assert.DoesNotContain("secret-part", new QuayToken("secret-part", DateTimeOffset.UnixEpoch).ToString(), StringComparison.Ordinal);
}
