using Microsoft.Extensions.Time.Testing;
using QuayAdmission.PullSecrets;

namespace QuayAdmission.Tests.PullSecrets;

public sealed class ExchangeBackoffTests
{
    private static readonly PullSecretKey Key = new("team-a", "default", "quay.io", "acme+puller");
    private static readonly TokenOptions Options = new();

    private readonly FakeTimeProvider time = new(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));

    private static TokenStatus.Unavailable Fault(string reason = "Quay answered 500: internal") => new(reason, Refused: false);

    private static TokenStatus.Unavailable Refusal(string reason = "Quay answered 400: no") => new(reason, Refused: true);

    private TimeSpan PauseAfter(ExchangeBackoff backoff, TokenStatus outcome)
    {
        var recorded = Assert.IsType<TokenStatus.Unavailable>(backoff.Record(Key, outcome));
        return recorded.RetryAt!.Value - time.GetUtcNow();
    }

    [Fact]
    public void A_failure_is_remembered_until_its_retry_time()
    {
        var backoff = new ExchangeBackoff(time, Options);
        Assert.Null(backoff.Current(Key));

        var recorded = Assert.IsType<TokenStatus.Unavailable>(backoff.Record(Key, Refusal("Quay answered 400: untrusted")));

        var answer = Assert.IsType<TokenStatus.Unavailable>(backoff.Current(Key));
        Assert.Equal("Quay answered 400: untrusted", answer.Reason);
        Assert.True(answer.Refused);
        Assert.Equal(recorded.RetryAt, answer.RetryAt);

        time.SetUtcNow(recorded.RetryAt!.Value - TimeSpan.FromMilliseconds(1));
        Assert.NotNull(backoff.Current(Key));
        time.SetUtcNow(recorded.RetryAt.Value);
        Assert.Null(backoff.Current(Key));
    }

    [Fact]
    public void A_refusal_pauses_longer_than_a_fault_and_both_stay_within_jitter()
    {
        for (var i = 0; i < 50; i++)
        {
            var fault = PauseAfter(new ExchangeBackoff(time, Options), Fault());
            var refusal = PauseAfter(new ExchangeBackoff(time, Options), Refusal());

            Assert.InRange(fault, Options.FailureBackoff * 0.8, Options.FailureBackoff * 1.2);
            Assert.InRange(refusal, Options.RefusalBackoff * 0.8, Options.RefusalBackoff * 1.2);
            Assert.True(refusal > fault);
        }
    }

    [Fact]
    public void The_pause_doubles_with_each_failure_in_a_row_up_to_the_max()
    {
        var backoff = new ExchangeBackoff(time, Options);
        var pauses = new List<TimeSpan>();
        for (var i = 0; i < 12; i++)
        {
            var pause = PauseAfter(backoff, Refusal());
            pauses.Add(pause);
            time.Advance(pause);
        }

        Assert.InRange(pauses[1], Options.RefusalBackoff * 2 * 0.8, Options.RefusalBackoff * 2 * 1.2);
        Assert.InRange(pauses[2], Options.RefusalBackoff * 4 * 0.8, Options.RefusalBackoff * 4 * 1.2);
        Assert.All(pauses, p => Assert.True(p <= Options.FailureBackoffMax * 1.2, p.ToString()));
        Assert.InRange(pauses[^1], Options.FailureBackoffMax * 0.8, Options.FailureBackoffMax * 1.2);
    }

    [Fact]
    public void A_success_clears_the_key_and_the_next_failure_starts_over()
    {
        var backoff = new ExchangeBackoff(time, Options);
        for (var i = 0; i < 4; i++)
            time.Advance(PauseAfter(backoff, Fault()));

        var ready = new TokenStatus.Ready(time.GetUtcNow().AddHours(1));
        Assert.Same(ready, backoff.Record(Key, ready));

        Assert.Null(backoff.Current(Key));
        Assert.Equal(0, backoff.Count);
        Assert.InRange(PauseAfter(backoff, Fault()), Options.FailureBackoff * 0.8, Options.FailureBackoff * 1.2);
    }

    [Fact]
    public void A_failed_renewal_of_a_valid_token_answers_with_that_token_while_it_lasts()
    {
        var backoff = new ExchangeBackoff(time, Options);
        var validUntil = time.GetUtcNow().AddMinutes(5);

        backoff.Record(Key, new TokenStatus.Ready(validUntil, RenewalError: "Quay answered 503: busy"));

        var answer = Assert.IsType<TokenStatus.Ready>(backoff.Current(Key));
        Assert.Equal(validUntil, answer.ExpiresAt);
        Assert.Equal("Quay answered 503: busy", answer.RenewalError);
    }

    [Fact]
    public void A_key_quiet_for_the_max_past_its_retry_time_is_forgotten()
    {
        var backoff = new ExchangeBackoff(time, Options);
        var other = Key with { Robot = "acme+other" };
        for (var i = 0; i < 3; i++)
            time.Advance(PauseAfter(backoff, Refusal()));

        time.Advance(Options.FailureBackoffMax);
        backoff.Record(other, Fault()); // any failure sweeps what is forgotten

        Assert.Equal(1, backoff.Count);
        Assert.InRange(PauseAfter(backoff, Refusal()), Options.RefusalBackoff * 0.8, Options.RefusalBackoff * 1.2);
    }

    [Fact]
    public void Memory_is_bounded_when_a_tenant_names_endless_failing_keys()
    {
        var backoff = new ExchangeBackoff(time, Options);
        for (var i = 0; i < ExchangeBackoff.MaxEntries + 100; i++)
            backoff.Record(Key with { Robot = $"acme+r{i}" }, Fault());

        Assert.Equal(ExchangeBackoff.MaxEntries, backoff.Count);

        time.Advance(Options.FailureBackoffMax * 2);
        backoff.Record(Key, Fault());
        Assert.Equal(1, backoff.Count);
    }
}
