extern alias KubernetesFull;

using KubernetesFull::k8s.Models;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using QuayAdmission.Admission;
using QuayAdmission.Hosting;
using QuayAdmission.Quay;

namespace QuayAdmission.Tests.Manifests;

/// <summary>
/// Checks that the token policy's literals say what the webhook will do. The policy
/// quay-admission-token-requests takes no parameter, so its audiences and excluded namespaces are
/// CEL list literals that repeat the webhook's configuration. This check compares them with the
/// settings the webhook gets from a set of objects (a render of a kustomization): the Deployment's
/// environment (its envFrom ConfigMap, then its env) bound by the webhook's own composition root.
/// </summary>
internal static class TokenPolicyAgreement
{
    public const string PolicyName = "quay-admission-token-requests";

    /// <summary>Fails with every difference, in full (a collection assertion would cut each one short).</summary>
    public static void AssertAgree(IReadOnlyList<ManifestObject> objects)
    {
        var differences = Differences(objects);
        Assert.True(differences.Count == 0, string.Join(Environment.NewLine, differences));
    }

    /// <summary>Every way the policy and the webhook's configuration differ; empty when they agree.</summary>
    public static IReadOnlyList<string> Differences(IReadOnlyList<ManifestObject> objects)
    {
        var typed = objects.Select(o => o.Typed).ToList();
        var policy = Assert.Single(typed.OfType<V1ValidatingAdmissionPolicy>(), p => p.Metadata.Name == PolicyName);
        var deployment = Assert.Single(typed.OfType<V1Deployment>());
        var (registries, namespaces) = WebhookSettings(ContainerEnvironment(deployment, typed.OfType<V1ConfigMap>().ToList()));
        var differences = new List<string>();

        Compare(policy, "audiences", registries.Registries.Select(r => r.EffectiveAudience),
            "the webhook requests tokens for each registry's Audience, else its Host", differences);
        Compare(policy, "excludedNamespaces", namespaces.All,
            "the webhook never acts in kube-system, its own namespace and its ExcludedNamespaces", differences);
        var user = $"system:serviceaccount:{deployment.Metadata.NamespaceProperty}:{deployment.Spec.Template.Spec.ServiceAccountName}";
        var condition = Assert.Single(policy.Spec.MatchConditions);
        if (condition.Expression != $"request.userInfo.username == '{user}'")
            differences.Add($"{PolicyName}: the match condition is `{condition.Expression}`, but the webhook runs as {user}");
        return differences;
    }

    private static void Compare(V1ValidatingAdmissionPolicy policy, string variable, IEnumerable<string> expected, string why, List<string> differences)
    {
        var want = expected.Distinct().Order(StringComparer.Ordinal).ToList();
        var expression = Assert.Single(policy.Spec.Variables, v => v.Name == variable).Expression;
        List<string> have;
        try
        {
            // No variables in scope: anything but a literal (params, object, another variable) is an error.
            have = Cel.Evaluate(expression, new Dictionary<string, object?>()) is List<object?> list && list.All(item => item is string)
                ? list.Cast<string>().Distinct().Order(StringComparer.Ordinal).ToList()
                : throw new Cel.CelException("not a list of strings");
        }
        catch (Cel.CelException e)
        {
            differences.Add($"{PolicyName}: variable {variable} `{expression}` is not a CEL list literal of strings ({e.Message})");
            return;
        }
        if (!have.SequenceEqual(want))
            differences.Add($"{PolicyName}: variable {variable} is `{expression}`, but {why}: {Literal(want)}");
    }

    private static string Literal(IEnumerable<string> items) => $"[{string.Join(", ", items.Select(i => $"'{i}'"))}]";

    /// <summary>The container's environment as the kubelet would set it, for the parts the webhook's configuration reads.</summary>
    private static Dictionary<string, string> ContainerEnvironment(V1Deployment deployment, IReadOnlyList<V1ConfigMap> configMaps)
    {
        var container = Assert.Single(deployment.Spec.Template.Spec.Containers);
        // Arguments would configure the webhook too (after the environment); only the environment is modelled.
        Assert.Null(container.Args);
        var ns = deployment.Metadata.NamespaceProperty;
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var source in container.EnvFrom ?? [])
        {
            var name = source.ConfigMapRef?.Name ?? throw new NotSupportedException("an envFrom other than a configMapRef");
            var configMap = configMaps.SingleOrDefault(c => c.Metadata.Name == name && c.Metadata.NamespaceProperty == ns)
                ?? throw new InvalidDataException($"the Deployment's envFrom names ConfigMap {ns}/{name}, which is not among the objects");
            foreach (var (key, value) in configMap.Data ?? new Dictionary<string, string>())
                environment[source.Prefix + key] = value;
        }
        // env comes after envFrom: the kubelet lets it override.
        foreach (var variable in container.Env ?? [])
        {
            environment[variable.Name] = variable.Value ?? variable.ValueFrom?.FieldRef?.FieldPath switch
            {
                "metadata.namespace" => ns,
                "metadata.name" => $"{deployment.Metadata.Name}-pod",
                _ => throw new NotSupportedException($"env {variable.Name}: only values and the Pod's metadata.name and metadata.namespace are modelled"),
            };
        }
        return environment;
    }

    /// <summary>
    /// The registries and namespaces as the webhook's composition root configures them from
    /// appsettings.json (as the image ships it) and the environment. Validation is left out: it would
    /// also check files, such as a CaFile, that exist only in the Pod.
    /// </summary>
    private static (QuayOptions Registries, NamespaceOptions Namespaces) WebhookSettings(Dictionary<string, string> environment)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddJsonFile(Path.Combine(RepoPaths.Root, "src", "QuayAdmission", "appsettings.json"));
        // What the environment-variables provider does with a name: `__` separates sections.
        builder.Configuration.AddInMemoryCollection(environment.Select(e =>
            KeyValuePair.Create(e.Key.Replace("__", ":", StringComparison.Ordinal), (string?)e.Value)));
        builder.AddQuayAdmission();
        using var services = builder.Services.BuildServiceProvider();
        return (Configured<QuayOptions>(services), Configured<NamespaceOptions>(services));
    }

    private static T Configured<T>(IServiceProvider services)
        where T : class =>
        new OptionsFactory<T>(services.GetServices<IConfigureOptions<T>>(), services.GetServices<IPostConfigureOptions<T>>()).Create(Options.DefaultName);
}
