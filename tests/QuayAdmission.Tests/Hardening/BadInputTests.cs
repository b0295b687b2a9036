using System.Net;
using QuayAdmission.Tests.Support;
using Xunit.Abstractions;

namespace QuayAdmission.Tests.Hardening;

/// <summary>One webhook for the whole corpus: the point is that it keeps serving after each case.</summary>
public sealed class BadInputFixture : IAsyncLifetime
{
    public WebhookHost Host { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Host = await WebhookHost.StartAsync();
        Host.Trust(BadInputCorpus.Robot, BadInputCorpus.Namespace);
    }

    public async Task DisposeAsync() => await Host.DisposeAsync();
}

public sealed class BadInputTests(BadInputFixture fixture, ITestOutputHelper output) : IClassFixture<BadInputFixture>
{
    private const int MaxReasonLength = 512;

    private WebhookHost Host => fixture.Host;

    public static TheoryData<string> Cases
    {
        get
        {
            var cases = new TheoryData<string>();
            foreach (var name in BadInputCorpus.Names)
                cases.Add(name);
            return cases;
        }
    }

    [Fact]
    public void The_corpus_has_at_least_thirty_cases() => Assert.InRange(BadInputCorpus.Count, 30, int.MaxValue);

    [Theory]
    [MemberData(nameof(Cases))]
    public Task Gets_a_documented_answer_and_the_server_keeps_serving(string name) => AssertDocumentedAnswerAsync(name);

    private async Task AssertDocumentedAnswerAsync(string name)
    {
        var input = BadInputCorpus.Get(name);
        var errorsBefore = Host.Errors().Count;

        var (result, mediaType) = await Host.PostBytesAsync(input.Body, input.ContentType).WaitAsync(HardeningHost.NoHang);

        var outcome = BadInputCorpus.Classify(result);
        output.WriteLine($"{name}: {outcome} {Excerpt(result.Body)}");
        Assert.True(input.Accept.Contains(outcome), $"{name}: answered {outcome} ({Excerpt(result.Body)}); the contract allows {string.Join(" or ", input.Accept)}");
        if (result.Status == HttpStatusCode.OK)
        {
            Assert.Equal("application/json", mediaType);
            Assert.Equal(input.Uid, result.Uid);
            Assert.Empty(result.Warnings);
            if (!result.Allowed)
                AssertReadable(result.Message);
            input.Check?.Invoke(input.SentPod, result, Host.SecretName(BadInputCorpus.Robot));
        }
        else
        {
            Assert.Null(result.Uid);
            Assert.Equal("text/plain", mediaType);
            AssertReadable(result.Body.TrimEnd('\n'));
        }
        Assert.Equal([], Host.Errors().Skip(errorsBefore));

        var next = await Host.AdmitAsync(Pods.Json(name: "after-" + name.Length, ns: BadInputCorpus.Namespace)).WaitAsync(HardeningHost.NoHang);
        Assert.True(next.Allowed && next.HasPatch && next.Warnings.Count == 0, $"after {name}: {Excerpt(next.Body)}");
    }

    /// <summary>A reason a person reads: present, one line, bounded, no control characters, no stack trace.</summary>
    private static void AssertReadable(string? reason)
    {
        Assert.False(string.IsNullOrWhiteSpace(reason));
        Assert.InRange(reason.Length, 1, MaxReasonLength);
        Assert.DoesNotContain(reason, char.IsControl);
        Assert.DoesNotContain("   at ", reason, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", reason, StringComparison.Ordinal);
    }

    private static string Excerpt(string body) => body.Length <= 300 ? body : body[..300] + "...";
}
