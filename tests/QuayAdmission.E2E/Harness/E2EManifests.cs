using k8s;
using k8s.Models;
using QuayAdmission.Tests.Manifests;
using YamlDotNet.RepresentationModel;

namespace QuayAdmission.E2E.Harness;

/// <summary>
/// The project's own manifests as <c>kubectl kustomize manifests/</c> renders them, cut to what a
/// node-less control plane with the webhook as a local process can use: the Namespace, the
/// ServiceAccount, RBAC, both ValidatingAdmissionPolicies and their bindings, and the ConfigMap (with
/// the registry this run serves: quay.local, which the token policy's audiences literal then names).
/// Not the Deployment, Service, PodDisruptionBudget,
/// NetworkPolicy or cert-manager objects (no node runs the webhook's Pod here), and the
/// MutatingWebhookConfiguration only as the template of <see cref="WebhookConfiguration"/>.
/// </summary>
internal sealed class E2EManifests
{
    public const string Namespace = "quay-admission";
    public const string ConfigMapName = "quay-admission";
    public const string RegistryHostKey = "QuayAdmission__Registries__0__Host";

    /// <summary>Kinds applied as they are (the ConfigMap with <see cref="RegistryHostKey"/> set).</summary>
    public static readonly IReadOnlySet<string> AppliedKinds = new HashSet<string>(StringComparer.Ordinal)
    {
        "Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding",
        "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "ConfigMap",
    };

    private readonly List<YamlMappingNode> applied;
    private readonly YamlMappingNode webhookTemplate;

    private E2EManifests(List<YamlMappingNode> applied, YamlMappingNode webhookTemplate)
    {
        this.applied = applied;
        this.webhookTemplate = webhookTemplate;
    }

    /// <summary>Renders the kustomization with kubectl (offline) and keeps the kinds above.</summary>
    public static async Task<E2EManifests> RenderAsync(string registryHost)
    {
        var kubectl = ExternalTool.Find("kubectl") ?? throw new InvalidOperationException("kubectl is not on PATH");
        var rendered = await ExternalTool.RunAsync(kubectl, ["kustomize", RepoPaths.Manifests], RepoPaths.Root);
        if (rendered.ExitCode != 0)
            throw new InvalidOperationException($"kubectl kustomize manifests/ failed: {rendered.Stderr}");
        return FromRendered(rendered.Stdout, registryHost);
    }

    public static E2EManifests FromRendered(string rendered, string registryHost)
    {
        var documents = Yaml.LoadDocuments(rendered, "kubectl kustomize manifests/");
        var kept = documents.Where(d => d.GetString("kind") is { } kind && AppliedKinds.Contains(kind)).ToList();
        var configMap = kept.Single(d => d.GetString("kind") == "ConfigMap" && d.At("metadata.name") == ConfigMapName);
        var data = configMap.GetMap("data") ?? throw new InvalidDataException("the ConfigMap quay-admission has no data");
        data.Children[new YamlScalarNode(RegistryHostKey)] = new YamlScalarNode(registryHost);
        // The token policy repeats the registries' audiences as a literal (README, "Adding a
        // registry"): this run's one registry is its audience, as an overlay would patch it.
        var policy = kept.Single(d => d.GetString("kind") == "ValidatingAdmissionPolicy" && MatchesTokenRequests(d));
        var audiences = (policy.GetMap("spec")?.GetList("variables") ?? []).OfType<YamlMappingNode>()
            .SingleOrDefault(v => v.GetString("name") == "audiences")
            ?? throw new InvalidDataException("the token policy has no variable named audiences");
        audiences.Children[new YamlScalarNode("expression")] = new YamlScalarNode($"['{registryHost}']");
        var webhook = documents.Single(d => d.GetString("kind") == "MutatingWebhookConfiguration");
        return new E2EManifests(kept, webhook);
    }

    /// <summary>What `kubectl apply -f -` gets: every kept object, in the kustomization's order.</summary>
    public string ApplyYaml => string.Join("---\n", applied.Select(Yaml.Serialize));

    public IEnumerable<string> Kinds => applied.Select(d => d.GetString("kind")!);

    /// <summary>The ConfigMap's data: what the Deployment's <c>envFrom</c> gives the webhook.</summary>
    public IReadOnlyDictionary<string, string> ConfigMapData =>
        ConfigMap.GetMap("data")!.Entries().ToDictionary(e => e.Key, e => ((YamlScalarNode)e.Value).Value ?? "");

    public string ConfigMapYaml => Yaml.Serialize(ConfigMap);

    /// <summary>The ConfigMap under another name (the rename case of the token policy scenario).</summary>
    public string ConfigMapYamlNamed(string name)
    {
        var copy = Yaml.LoadDocuments(ConfigMapYaml, "ConfigMap").Single();
        copy.GetMap("metadata")!.Children[new YamlScalarNode("name")] = new YamlScalarNode(name);
        return Yaml.Serialize(copy);
    }

    /// <summary>
    /// The ValidatingAdmissionPolicy that governs TokenRequests (its match rules name
    /// <c>serviceaccounts/token</c>), found by what it matches rather than by name, and its bindings.
    /// </summary>
    public (string Name, string Yaml, IReadOnlyList<(string Name, string Yaml)> Bindings) TokenPolicy
    {
        get
        {
            var policy = applied.Single(d => d.GetString("kind") == "ValidatingAdmissionPolicy" && MatchesTokenRequests(d));
            var name = policy.At("metadata.name")!;
            var bindings = applied
                .Where(d => d.GetString("kind") == "ValidatingAdmissionPolicyBinding" && d.At("spec.policyName") == name)
                .Select(d => (d.At("metadata.name")!, Yaml.Serialize(d)))
                .ToList();
            return (name, Yaml.Serialize(policy), bindings);
        }
    }

    /// <summary>
    /// The manifest's MutatingWebhookConfiguration in URL form for a webhook running as a local process:
    /// the same rules, side effects, failure policy, timeout, reinvocation, match conditions and namespace
    /// selector, plus one selector term so only <paramref name="group"/>'s namespaces reach it.
    /// </summary>
    public V1MutatingWebhookConfiguration WebhookConfiguration(string name, string group, int httpsPort, string caBundlePem)
    {
        var configuration = KubernetesYaml.Deserialize<V1MutatingWebhookConfiguration>(Yaml.Serialize(webhookTemplate), strict: true);
        configuration.Metadata = new V1ObjectMeta
        {
            Name = name,
            Labels = new Dictionary<string, string>(configuration.Metadata?.Labels ?? new Dictionary<string, string>()) { [E2ELabels.PartOf] = E2ELabels.PartOfValue },
        };
        foreach (var webhook in configuration.Webhooks)
        {
            webhook.ClientConfig = new Admissionregistrationv1WebhookClientConfig
            {
                Url = $"https://127.0.0.1:{httpsPort}/mutate",
                CaBundle = System.Text.Encoding.ASCII.GetBytes(caBundlePem),
            };
            webhook.NamespaceSelector ??= new V1LabelSelector();
            webhook.NamespaceSelector.MatchExpressions ??= [];
            webhook.NamespaceSelector.MatchExpressions.Add(new V1LabelSelectorRequirement { Key = E2ELabels.Group, OperatorProperty = "In", Values = [group] });
        }
        return configuration;
    }

    private YamlMappingNode ConfigMap => applied.Single(d => d.GetString("kind") == "ConfigMap" && d.At("metadata.name") == ConfigMapName);

    private static bool MatchesTokenRequests(YamlMappingNode policy) =>
        (policy.GetMap("spec")?.GetMap("matchConstraints")?.GetList("resourceRules") ?? [])
            .OfType<YamlMappingNode>()
            .Any(rule => rule.GetList("resources").OfType<YamlScalarNode>().Any(r => r.Value == "serviceaccounts/token"));
}

/// <summary>The labels the harness puts on what it creates, so a later run finds and removes them.</summary>
internal static class E2ELabels
{
    public const string PartOf = "app.kubernetes.io/part-of";
    public const string PartOfValue = "quay-admission-e2e";

    /// <summary>Which group of webhook processes serves a namespace (a namespaceSelector term of that group's webhook configuration).</summary>
    public const string Group = "e2e.quay-admission.io/group";

    public static string Selector => $"{PartOf}={PartOfValue}";
}
