using k8s;
using k8s.Models;
using Microsoft.Extensions.DependencyInjection;
using QuayAdmission.PullSecrets;
using QuayAdmission.Tests.Fakes;
using QuayAdmission.Tests.Support;
using static QuayAdmission.Tests.Refresh.ReconcileTests;
using static QuayAdmission.Tests.Refresh.RefresherTests;

namespace QuayAdmission.Tests.Hardening;

/// <summary>
/// The whole background half through an API outage of every kind: the process stays up, /mutate
/// keeps answering, and once the API is back every loop recovers by itself as its backoff runs
/// out (the test steps the clock through it). Recovery is read from the API's state (the Lease renewed, the missing Secret written,
/// an Event recorded), never from a second admission that would redo the work.
/// </summary>
[Collection(SerialTests.Name)]
public sealed class ApiOutageTests
{
    private static readonly TimeSpan BackoffMax = TimeSpan.FromSeconds(2);

    // Everything the webhook asks of the API, admission and background alike.
    private static readonly string[] Operations =
    [
        "leases.get", "leases.update", "leases.create", "secrets.list", "secrets.watch", "pods.list", "pods.watch",
        "secrets.get", "secrets.create", "secrets.patch", "tokenrequest", "events.create", "serviceaccounts.get", "namespaces.get",
    ];

    public static TheoryData<string> Outages => ["stopped", "client-timeout", "reset-mid-body", "500", "429"];

    [Theory]
    [MemberData(nameof(Outages))]
    public async Task Every_loop_rides_out_the_outage_and_recovers_by_itself(string outage)
    {
        await using var host = await LeadingAsync(new()
        {
            ["QuayAdmission:Background:BackoffBase"] = "00:00:00.2",
            ["QuayAdmission:Background:BackoffMax"] = BackoffMax.ToString(),
            ["QuayAdmission:Refresher:BackoffBase"] = "00:00:00.2",
            ["QuayAdmission:Refresher:BackoffMax"] = BackoffMax.ToString(),
        }, DependencyFaults.WithApiTimeout);
        host.Trust("acme+puller");
        host.Trust("acme+other");
        await AdmitAndRunAsync(host, Pods.Json());
        var name = host.SecretName();
        var cache = host.Factory.Services.GetRequiredService<ManagedSecretCache>();
        Assert.True(await Eventually.TrueAsync(() => cache.Get("team-a", name) is not null));
        var lease = host.Kube.GetLease("quay-admission", "quay-admission-refresher")!.Spec.RenewTime;

        await StartAsync(host, outage);
        // Made while the webhook cannot see it: the watch must catch up afterwards.
        var lost = host.Kube.GetSecret("team-a", name)!;
        host.Kube.DeleteSecret("team-a", name);
        for (var i = 0; i < 3; i++)
            host.Time.Advance(BackoffMax); // the loops fail, back off and fail again

        // /mutate keeps answering: the cached key patched at once, a new key degraded within the budget.
        var cached = await AdmitWithinBudgetAsync(host, Pods.Json(name: "web-1"));
        Assert.True(cached.Allowed);
        Assert.Empty(cached.Warnings);
        var degraded = await AdmitWithinBudgetAsync(host, Pods.Json(name: "web-2", robotAccount: "acme+other"));
        Assert.True(degraded.Allowed);
        Assert.Single(degraded.Warnings);
        Assert.False(host.Factory.Services.GetRequiredService<Microsoft.Extensions.Hosting.IHostApplicationLifetime>().ApplicationStopping.IsCancellationRequested);

        await EndAsync(host, outage);

        // A loop whose last failing call (up to a client timeout, in real time) was still under way
        // when the API came back starts its backoff only then: step the clock until it recovers.
        Assert.True(await Eventually.TrueAsync(() =>
        {
            if (host.Kube.GetSecret("team-a", name) is { } back && back.Metadata.Uid != lost.Metadata.Uid && PullSecretManifest.ExpiresAt(back) is not null)
                return true;
            host.Time.Advance(TimeSpan.FromMilliseconds(100));
            return false;
        }, TimeSpan.FromSeconds(30)), "the Secret the Pod lists was not re-created");
        Assert.True(await Eventually.TrueAsync(() =>
        {
            host.Time.Advance(TimeSpan.FromMilliseconds(200)); // the elector renews every RetryPeriod
            return host.Kube.GetLease("quay-admission", "quay-admission-refresher")!.Spec.RenewTime > lease;
        }), "the Lease was not renewed");
        Assert.Equal("replica-a", host.Kube.GetLease("quay-admission", "quay-admission-refresher")!.Spec.HolderIdentity);
        Assert.True(await Eventually.TrueAsync(() => host.Kube.Events.Any(e => e.Reason == "SecretRecreated" && e.InvolvedObject.Name == name)),
            "no Event recorded after the outage");
    }

    private static async Task StartAsync(WebhookHost host, string outage)
    {
        if (outage == "stopped")
        {
            await host.Kube.StopAsync();
            return;
        }
        var fault = outage switch
        {
            "client-timeout" => Fault.Delay(DependencyFaults.ApiTimeout * 3),
            "reset-mid-body" => Fault.ResetMidBody,
            _ => Fault.Status(int.Parse(outage, System.Globalization.CultureInfo.InvariantCulture)),
        };
        foreach (var operation in Operations)
            host.Kube.SetFault(operation, fault);
        host.Kube.CloseWatches(); // open streams end; their reconnects meet the fault
    }

    private static async Task EndAsync(WebhookHost host, string outage)
    {
        if (outage == "stopped")
            await host.Kube.RestartAsync();
        else
            host.Kube.ClearFaults();
    }

    /// <summary>Admission waits on the test's clock: move it until the answer comes, as real time would.</summary>
    private static async Task<AdmissionResult> AdmitWithinBudgetAsync(WebhookHost host, string podJson)
    {
        var admitting = host.AdmitAsync(podJson);
        Assert.True(await Eventually.TrueAsync(() =>
        {
            host.Time.Advance(TimeSpan.FromMilliseconds(250));
            return admitting.IsCompleted;
        }), "admission did not answer within its budget");
        return await admitting;
    }
}
