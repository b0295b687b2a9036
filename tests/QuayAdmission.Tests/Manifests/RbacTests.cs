extern alias KubernetesFull;

using KubernetesFull::k8s.Models;

namespace QuayAdmission.Tests.Manifests;

public class RbacTests
{
    // Exactly the calls the webhook makes (see DESIGN.md and issue 3), as (group, resource, verb).
    private static readonly (string Group, string Resource, string Verb)[] ClusterRules =
    [
        ("", "serviceaccounts/token", "create"),
        .. Verbs("", "secrets", "get", "list", "watch", "create", "patch", "delete"),
        .. Verbs("", "pods", "list", "watch"),
        .. Verbs("", "serviceaccounts", "get", "list", "watch"),
        .. Verbs("", "namespaces", "get", "list", "watch"),
        .. Verbs("", "events", "create", "patch"),
        .. Verbs("events.k8s.io", "events", "create", "patch"),
    ];

    private static readonly (string Group, string Resource, string Verb)[] NamespaceRules =
        Verbs("coordination.k8s.io", "leases", "get", "create", "update");

    [Fact]
    public void The_cluster_role_grants_exactly_what_the_webhook_calls()
    {
        var role = InstalledManifests.One<V1ClusterRole>();

        Assert.Null(role.AggregationRule);
        Assert.Equal(ClusterRules.Order(), Flatten(role.Rules).Order());
    }

    [Fact]
    public void The_role_grants_leases_in_the_own_namespace_only()
    {
        var role = InstalledManifests.One<V1Role>();

        Assert.Equal(InstalledManifests.Namespace, role.Metadata.NamespaceProperty);
        Assert.Equal(NamespaceRules.Order(), Flatten(role.Rules).Order());
    }

    [Fact]
    public void No_rule_uses_wildcards_resource_names_or_urls()
    {
        var rules = InstalledManifests.One<V1ClusterRole>().Rules.Concat(InstalledManifests.One<V1Role>().Rules);

        Assert.All(rules, rule =>
        {
            Assert.DoesNotContain("*", rule.ApiGroups);
            Assert.DoesNotContain("*", rule.Resources);
            Assert.DoesNotContain("*", rule.Verbs);
            Assert.Null(rule.NonResourceURLs);
            Assert.Null(rule.ResourceNames);
        });
    }

    [Fact]
    public void The_bindings_give_the_roles_to_the_webhook_service_account_only()
    {
        var clusterBinding = InstalledManifests.One<V1ClusterRoleBinding>();
        var binding = InstalledManifests.One<V1RoleBinding>();

        Assert.Equal(("ClusterRole", InstalledManifests.One<V1ClusterRole>().Metadata.Name), (clusterBinding.RoleRef.Kind, clusterBinding.RoleRef.Name));
        Assert.Equal(("Role", InstalledManifests.One<V1Role>().Metadata.Name), (binding.RoleRef.Kind, binding.RoleRef.Name));
        Assert.Equal(InstalledManifests.Namespace, binding.Metadata.NamespaceProperty);
        foreach (var subjects in new[] { clusterBinding.Subjects, binding.Subjects })
        {
            var subject = Assert.Single(subjects);
            Assert.Equal("ServiceAccount", subject.Kind);
            Assert.Equal(InstalledManifests.ServiceAccount.Metadata.Name, subject.Name);
            Assert.Equal(InstalledManifests.ServiceAccount.Metadata.NamespaceProperty, subject.NamespaceProperty);
        }
    }

    [Fact]
    public void The_deployment_runs_as_that_service_account() =>
        Assert.Equal(InstalledManifests.ServiceAccount.Metadata.Name, InstalledManifests.Deployment.Spec.Template.Spec.ServiceAccountName);

    private static (string, string, string)[] Verbs(string group, string resource, params string[] verbs) =>
        verbs.Select(verb => (group, resource, verb)).ToArray();

    private static IEnumerable<(string, string, string)> Flatten(IEnumerable<V1PolicyRule> rules) =>
        from rule in rules
        from g in rule.ApiGroups
        from r in rule.Resources
        from v in rule.Verbs
        select (g, r, v);
}
