using QuayAdmission.Patching;

namespace QuayAdmission.Tests.Patching;

public class JsonPointerTests
{
    [Theory]
    [InlineData("plain", "plain")]
    [InlineData("quay-admission.io/robot-account", "quay-admission.io~1robot-account")]
    [InlineData("a~b", "a~0b")]
    [InlineData("~1", "~01")]
    [InlineData("/~", "~1~0")]
    [InlineData("", "")]
    public void Escape_follows_rfc6901(string token, string escaped) => Assert.Equal(escaped, JsonPointer.Escape(token));

    [Fact]
    public void Append_escapes_only_the_new_token() =>
        Assert.Equal("/metadata/annotations/a~1b", JsonPointer.Append("/metadata/annotations", "a/b"));
}
