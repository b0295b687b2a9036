using System.Text;
using System.Text.Json;
using QuayAdmission.PullSecrets;
using QuayAdmission.Quay;

namespace QuayAdmission.Tests.PullSecrets;

public class DockerConfigTests
{
    [Fact]
    public void Has_the_contract_shape()
    {
        using var json = JsonDocument.Parse(DockerConfig.For("quay.io", "acme+puller", "tok.en.value"));
        var entry = json.RootElement.GetProperty("auths").GetProperty("quay.io");
        Assert.Equal("acme+puller", entry.GetProperty("username").GetString());
        Assert.Equal("tok.en.value", entry.GetProperty("password").GetString());
        Assert.Equal("acme+puller:tok.en.value", Encoding.UTF8.GetString(Convert.FromBase64String(entry.GetProperty("auth").GetString()!)));
        Assert.Single(json.RootElement.EnumerateObject());
    }

    [Fact]
    public void Placeholder_has_no_auths() => Assert.Equal("""{"auths":{}}""", Encoding.UTF8.GetString(DockerConfig.Empty));

    [Fact]
    public void Secret_carries_the_contract_metadata()
    {
        var key = new PullSecretKey("team-a", "builder", "quay.io", "acme+puller");
        var secret = PullSecretManifest.Build(key, new QuayToken("t", new DateTimeOffset(2026, 11, 29, 7, 0, 0, TimeSpan.Zero)));

        Assert.Equal("kubernetes.io/dockerconfigjson", secret.Type);
        Assert.Equal(key.SecretName, secret.Metadata.Name);
        Assert.Equal("team-a", secret.Metadata.NamespaceProperty);
        Assert.Equal("quay-admission", secret.Metadata.Labels["app.kubernetes.io/managed-by"]);
        Assert.Equal("quay.io", secret.Metadata.Annotations["quay-admission.io/registry"]);
        Assert.Equal("acme+puller", secret.Metadata.Annotations["quay-admission.io/robot-account"]);
        Assert.Equal("builder", secret.Metadata.Annotations["quay-admission.io/service-account"]);
        Assert.Equal("2026-11-29T07:00:00Z", secret.Metadata.Annotations["quay-admission.io/expires-at"]);
        Assert.Equal(key, PullSecretManifest.KeyOf(secret));
    }

    [Fact]
    public void Placeholder_secret_has_no_expiry()
    {
        var secret = PullSecretManifest.Build(new PullSecretKey("ns", "default", "quay.io", "acme+puller"), token: null);
        Assert.False(secret.Metadata.Annotations.ContainsKey("quay-admission.io/expires-at"));
        Assert.Null(PullSecretManifest.ExpiresAt(secret));
        Assert.Equal(DockerConfig.Empty, secret.Data[".dockerconfigjson"]);
    }
}
