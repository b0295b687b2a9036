using QuayAdmission.PullSecrets;

namespace QuayAdmission.Tests.PullSecrets;

public sealed class NamespaceShareTests
{
    [Fact]
    public async Task A_namespace_over_its_share_waits_while_another_enters()
    {
        var share = new NamespaceShare(perNamespace: 2);
        var held = new[] { await share.EnterAsync("team-a", default), await share.EnterAsync("team-a", default) };

        var third = share.EnterAsync("team-a", default);
        var other = share.EnterAsync("team-b", default);

        Assert.True(other.IsCompletedSuccessfully);
        Assert.False(third.IsCompleted);

        held[0].Dispose();
        using (await third.WaitAsync(TimeSpan.FromSeconds(10)))
        {
        }
        held[1].Dispose();
        (await other).Dispose();
        Assert.Equal(0, share.ActiveNamespaces);
    }

    [Fact]
    public async Task A_cancelled_wait_gives_nothing_back_and_leaves_no_gate()
    {
        var share = new NamespaceShare(perNamespace: 1);
        var held = await share.EnterAsync("team-a", default);
        using var cancel = new CancellationTokenSource();

        var waiting = share.EnterAsync("team-a", cancel.Token);
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        var next = share.EnterAsync("team-a", default);
        Assert.False(next.IsCompleted); // the cancelled waiter released no slot it never had
        held.Dispose();
        held.Dispose(); // twice is once
        (await next.WaitAsync(TimeSpan.FromSeconds(10))).Dispose();
        Assert.Equal(0, share.ActiveNamespaces);
    }
}
