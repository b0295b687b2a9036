using k8s.Models;
using Microsoft.Extensions.DependencyInjection;
using QuayAdmission.PullSecrets;
using QuayAdmission.Quay;
using QuayAdmission.Robots;
using QuayAdmission.Tests.Fakes;
using QuayAdmission.Tests.Support;

namespace QuayAdmission.Tests.PullSecrets;

/// <summary>Each managed Secret is owned by its ServiceAccount, so deleting the ServiceAccount or namespace collects it.</summary>
public sealed class OwnershipTests : IAsyncLifetime
{
    private const string Robot = "acme+puller";
    private WebhookHost host = null!;

    public async Task InitializeAsync()
    {
        host = await WebhookHost.StartAsync();
        host.Trust(Robot);
    }

    public async Task DisposeAsync() => await host.DisposeAsync();

    private PullSecretKey Key => new("team-a", "default", host.RegistryHost, Robot);

    private V1Secret Written() => host.Kube.GetSecret("team-a", Key.SecretName) ?? throw new InvalidOperationException("no Secret written");

    private string AddServiceAccount(string? uid = null)
    {
        host.Kube.AddServiceAccount(new V1ServiceAccount { Metadata = new V1ObjectMeta { Name = "default", NamespaceProperty = "team-a", Uid = uid } });
        return host.Kube.GetServiceAccount("team-a", "default")!.Metadata.Uid;
    }

    private static void AssertOwnedBy(V1Secret secret, string uid)
    {
        var owner = Assert.Single(secret.Metadata.OwnerReferences, r => r.Kind == "ServiceAccount");
        Assert.Equal("v1", owner.ApiVersion);
        Assert.Equal("default", owner.Name);
        Assert.Equal(uid, owner.Uid);
        Assert.NotEqual(true, owner.Controller);
        Assert.NotEqual(true, owner.BlockOwnerDeletion);
    }

    [Fact]
    public async Task The_Secret_is_owned_by_its_ServiceAccount()
    {
        var uid = AddServiceAccount();

        Assert.True((await host.AdmitAsync(Pods.Json())).HasPatch);

        AssertOwnedBy(Written(), uid);
        Assert.NotNull(PullSecretManifest.ExpiresAt(Written()));
    }

    [Fact]
    public async Task A_placeholder_is_owned_too()
    {
        var uid = AddServiceAccount();
        host.Quay.Behaviour = QuayBehaviour.Status(500, """{"error":"internal"}""");

        Assert.Single((await host.AdmitAsync(Pods.Json())).Warnings);

        Assert.True(await Eventually.TrueAsync(() => host.Kube.GetSecret("team-a", Key.SecretName) is not null), "no placeholder");
        Assert.Null(PullSecretManifest.ExpiresAt(Written()));
        AssertOwnedBy(Written(), uid);
    }

    [Fact]
    public async Task Without_a_readable_ServiceAccount_the_Secret_is_written_without_an_owner()
    {
        // The stand-in answers 404 for a ServiceAccount nobody added, and still issues its tokens.
        Assert.True((await host.AdmitAsync(Pods.Json())).HasPatch);
        Assert.Null(Written().Metadata.OwnerReferences);
    }

    [Fact]
    public async Task A_failed_ServiceAccount_read_writes_the_Secret_without_an_owner()
    {
        AddServiceAccount();
        host.Kube.SetFault("serviceaccounts.get", Fault.Status(500));

        var result = await host.AdmitAsync(Pods.Json());

        Assert.True(result.HasPatch && result.Warnings.Count == 0, result.Body);
        Assert.Null(Written().Metadata.OwnerReferences);
    }

    [Fact]
    public async Task A_uid_that_is_not_a_uid_is_not_written()
    {
        AddServiceAccount(uid: "../../victim");
        Assert.True((await host.AdmitAsync(Pods.Json())).HasPatch);
        Assert.Null(Written().Metadata.OwnerReferences);
    }

    [Fact]
    public async Task A_renewal_adds_the_owner_and_keeps_foreign_references()
    {
        var foreign = new V1OwnerReference { ApiVersion = "apps/v1", Kind = "Deployment", Name = "web", Uid = Guid.NewGuid().ToString() };
        var old = PullSecretManifest.Build(Key, new QuayToken("old", host.Time.GetUtcNow().AddMinutes(5)));
        old.Metadata.OwnerReferences = [foreign];
        host.Kube.PutSecret(old);
        var uid = AddServiceAccount();

        Assert.True((await host.AdmitAsync(Pods.Json())).HasPatch); // 5 minutes left: renewed in place
        var renewed = Written();
        host.Time.Advance(TimeSpan.FromMinutes(55));
        Assert.True((await host.AdmitAsync(Pods.Json(name: "web-1"))).HasPatch); // and once more
        var again = Written();

        Assert.True(PullSecretManifest.ExpiresAt(renewed) > PullSecretManifest.ExpiresAt(old));
        Assert.True(PullSecretManifest.ExpiresAt(again) > PullSecretManifest.ExpiresAt(renewed));
        foreach (var secret in new[] { renewed, again })
        {
            Assert.Equal(2, secret.Metadata.OwnerReferences.Count);
            Assert.Contains(secret.Metadata.OwnerReferences, r => r.Uid == foreign.Uid && r.Kind == "Deployment");
            AssertOwnedBy(secret, uid);
        }
    }

    [Fact]
    public async Task A_Secret_written_before_its_ServiceAccount_was_readable_gets_the_owner_on_its_next_write()
    {
        Assert.True((await host.AdmitAsync(Pods.Json())).HasPatch);
        Assert.Null(Written().Metadata.OwnerReferences);
        var uid = AddServiceAccount();

        // The annotation cache re-reads the ServiceAccount once its entry is older than ScopeCacheTtl.
        host.Time.Advance(TimeSpan.FromMinutes(1));
        var annotations = host.Factory.Services.GetRequiredService<AnnotationReader>();
        Assert.True(await Eventually.TrueAsync(() =>
        {
            var read = annotations.ServiceAccountAsync("team-a", "default", TimeSpan.FromSeconds(1), default);
            return read.IsCompletedSuccessfully && read.Result.Uid == uid;
        }), "the ServiceAccount was never re-read");
        host.Time.Advance(TimeSpan.FromMinutes(54)); // 5 minutes left: renewed in place

        Assert.True((await host.AdmitAsync(Pods.Json(name: "web-1"))).HasPatch);

        AssertOwnedBy(Written(), uid);
    }
}

/// <summary>The ownerReference in the manifest alone.</summary>
public sealed class PullSecretOwnerManifestTests
{
    private static readonly PullSecretKey Key = new("team-a", "builder", "quay.io", "acme+puller");
    private static readonly QuayToken Token = new("t", new DateTimeOffset(2026, 3, 1, 13, 0, 0, TimeSpan.Zero));
    private const string Uid = "6f1c2a9e-3b7d-4c55-9a0e-2f4b8d7c1e90";

    [Fact]
    public void Build_names_the_ServiceAccount_as_a_plain_owner()
    {
        var owner = Assert.Single(PullSecretManifest.Build(Key, Token, Uid).Metadata.OwnerReferences);

        Assert.Equal(("v1", "ServiceAccount", "builder", Uid), (owner.ApiVersion, owner.Kind, owner.Name, owner.Uid));
        Assert.Null(owner.Controller);
        Assert.Null(owner.BlockOwnerDeletion);
        Assert.Null(PullSecretManifest.Build(Key, Token).Metadata.OwnerReferences);
    }

    [Fact]
    public void A_patch_adds_the_owner_to_those_read_and_sends_no_list_when_it_is_there()
    {
        var foreign = new V1OwnerReference { ApiVersion = "v1", Kind = "ConfigMap", Name = "x", Uid = "0a0b0c0d-0000-4000-8000-000000000001" };
        var stored = PullSecretManifest.Build(Key, Token);
        stored.Metadata.ResourceVersion = "41";
        stored.Metadata.OwnerReferences = [foreign];

        var adding = PullSecretManifest.Patch(stored, Key, Token, Uid);
        stored.Metadata.OwnerReferences = adding.Metadata.OwnerReferences;
        var owned = PullSecretManifest.Patch(stored, Key, Token, Uid);
        var unknownOwner = PullSecretManifest.Patch(stored, Key, Token, ownerUid: null);

        // A merge patch replaces a list whole: the one sent is those read plus ours, in that order.
        Assert.Equal([foreign.Uid, Uid], adding.Metadata.OwnerReferences.Select(r => r.Uid));
        Assert.Null(owned.Metadata.OwnerReferences);
        Assert.Null(unknownOwner.Metadata.OwnerReferences);
        Assert.All([adding, owned, unknownOwner], p => Assert.Equal("41", p.Metadata.ResourceVersion));
    }

    [Theory]
    [InlineData("6f1c2a9e-3b7d-4c55-9a0e-2f4b8d7c1e90", true)]
    [InlineData("6F1C2A9E-3B7D-4C55-9A0E-2F4B8D7C1E90", true)]
    [InlineData("6f1c2a9e3b7d4c559a0e2f4b8d7c1e90", false)]
    [InlineData("{6f1c2a9e-3b7d-4c55-9a0e-2f4b8d7c1e90}", false)]
    [InlineData("../../victim", false)]
    [InlineData("", false)]
    [InlineData(null, false)]
    public void Only_a_uid_shaped_value_counts_as_a_uid(string? value, bool expected) =>
        Assert.Equal(expected, ObjectAnnotations.IsUid(value));
}
