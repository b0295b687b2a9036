using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace QuayAdmission.E2E.Harness;

/// <summary>The Secret name DESIGN.md fixes for a key, computed here independently of the webhook's code.</summary>
internal static class SecretNames
{
    public static string For(string registryHost, string robot, string serviceAccount)
    {
        ArgumentNullException.ThrowIfNull(robot);
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{registryHost}/{robot}@{serviceAccount}")))[..10];
        var slug = robot.ToLowerInvariant().Replace('+', '-').Replace('_', '-').Replace('.', '-');
        var room = 63 - "quay-".Length - 1 - hash.Length;
        return $"quay-{(slug.Length > room ? slug[..room] : slug)}-{hash}";
    }
}

/// <summary>The Pods the scenarios create, as JSON for kubectl.</summary>
internal static class E2EPods
{
    public const string RobotAnnotation = "quay-admission.io/robot-account";
    public const string InjectedLabel = "quay-admission.io/injected";

    /// <summary>
    /// A Pod naming <paramref name="robot"/>. Without <paramref name="onNode"/> it stays Pending (there is no
    /// scheduler): enough for admission and for the refresher, which counts a Pod that has not finished as a user.
    /// On the node: <c>spec.nodeName: realnode</c>, host network (no CNI on loopback), and tolerations for
    /// the NotReady node's taints.
    /// </summary>
    public static string Json(
        string ns, string name, string serviceAccount, string robot, bool onNode = false, IList<string>? command = null, IList<string>? pullSecrets = null)
    {
        var pod = new V1Pod
        {
            ApiVersion = "v1",
            Kind = "Pod",
            Metadata = new V1ObjectMeta
            {
                Name = name,
                NamespaceProperty = ns,
                Labels = new Dictionary<string, string> { [E2ELabels.PartOf] = E2ELabels.PartOfValue },
                Annotations = new Dictionary<string, string> { [RobotAnnotation] = robot },
            },
            Spec = new V1PodSpec
            {
                ServiceAccountName = serviceAccount,
                // The webhook needs none, and the kubelet then has one thing less to wait for.
                AutomountServiceAccountToken = false,
                TerminationGracePeriodSeconds = 1,
                RestartPolicy = "Always",
                // Always: each start is a pull the registry sees (a cached image needs no credentials).
                Containers = [new V1Container { Name = "app", Image = E2ESettings.Image, ImagePullPolicy = "Always", Command = command }],
                ImagePullSecrets = pullSecrets?.Select(secret => new V1LocalObjectReference { Name = secret }).ToList(),
            },
        };
        if (onNode)
        {
            pod.Spec.NodeName = RealNode.Name;
            pod.Spec.HostNetwork = true;
            pod.Spec.Tolerations =
            [
                new V1Toleration { Key = "node.kubernetes.io/not-ready", OperatorProperty = "Exists" },
                new V1Toleration { Key = "node.kubernetes.io/unreachable", OperatorProperty = "Exists" },
            ];
        }
        return KubernetesJson.Serialize(pod);
    }

    public static string NamespaceJson(string name, string? group) => KubernetesJson.Serialize(new V1Namespace
    {
        ApiVersion = "v1",
        Kind = "Namespace",
        Metadata = new V1ObjectMeta
        {
            Name = name,
            Labels = group is null
                ? new Dictionary<string, string> { [E2ELabels.PartOf] = E2ELabels.PartOfValue }
                : new Dictionary<string, string> { [E2ELabels.PartOf] = E2ELabels.PartOfValue, [E2ELabels.Group] = group },
        },
    });

    public static string ServiceAccountJson(string ns, string name) => KubernetesJson.Serialize(new V1ServiceAccount
    {
        ApiVersion = "v1",
        Kind = "ServiceAccount",
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns },
    });
}

/// <summary>
/// A managed pull Secret as the harness sees it. The token stays in memory, for comparing with what
/// Quay issued; <see cref="ToString"/> never shows it.
/// </summary>
internal sealed record PullSecretView(string Uid, string ResourceVersion, string Type, string? ManagedBy, string? ExpiresAt, string? Username, string? Token)
{
    public bool HasToken => !string.IsNullOrEmpty(Token) && ExpiresAt is not null;

    public static PullSecretView Of(V1Secret secret, string registryHost)
    {
        ArgumentNullException.ThrowIfNull(secret);
        string? username = null, token = null;
        if (secret.Data?.TryGetValue(".dockerconfigjson", out var bytes) == true && JsonNode.Parse(bytes)?["auths"]?[registryHost] is JsonObject auth)
        {
            username = auth["username"]?.GetValue<string>();
            token = auth["password"]?.GetValue<string>();
        }
        string? Annotation(string key) => secret.Metadata.Annotations?.TryGetValue(key, out var value) == true ? value : null;
        return new PullSecretView(
            secret.Metadata.Uid,
            secret.Metadata.ResourceVersion,
            secret.Type,
            secret.Metadata.Labels?.TryGetValue("app.kubernetes.io/managed-by", out var managedBy) == true ? managedBy : null,
            Annotation("quay-admission.io/expires-at"),
            username,
            token);
    }

    public override string ToString() =>
        $"uid {Uid} rv {ResourceVersion} type {Type} managed-by {ManagedBy ?? "-"} expires-at {ExpiresAt ?? "(placeholder)"} username {Username ?? "-"} token {(Token is null ? "none" : "(set, not shown)")}";
}

/// <summary>Reads that treat 404 as "not there".</summary>
internal static class ClusterReads
{
    public static Task<V1Secret?> SecretOrNullAsync(this IKubernetes api, string ns, string name) =>
        OrNullAsync(() => api.CoreV1.ReadNamespacedSecretAsync(name, ns));

    public static async Task<PullSecretView?> PullSecretAsync(this IKubernetes api, string ns, string name) =>
        await api.SecretOrNullAsync(ns, name) is { } secret ? PullSecretView.Of(secret, E2ESettings.RegistryHost) : null;

    public static Task<V1Lease?> LeaseOrNullAsync(this IKubernetes api, string ns, string name) =>
        OrNullAsync(() => api.CoordinationV1.ReadNamespacedLeaseAsync(name, ns));

    public static Task<V1Pod?> PodOrNullAsync(this IKubernetes api, string ns, string name) =>
        OrNullAsync(() => api.CoreV1.ReadNamespacedPodAsync(name, ns));

    public static async Task<IReadOnlyList<V1Secret>> SecretsAsync(this IKubernetes api, string ns) =>
        (await api.CoreV1.ListNamespacedSecretAsync(ns)).Items.ToList();

    /// <summary>A Lease's times are UTC on the wire (MicroTime); the reader may hand them back unspecified.</summary>
    public static DateTime Utc(DateTime? time) =>
        time is { } t ? (t.Kind == DateTimeKind.Unspecified ? DateTime.SpecifyKind(t, DateTimeKind.Utc) : t.ToUniversalTime()) : throw new InvalidOperationException("no time in the Lease");

    private static async Task<T?> OrNullAsync<T>(Func<Task<T>> read) where T : class
    {
        try
        {
            return await read();
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }
}
