using System.Text.Json;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using Microsoft.AspNetCore.Http;

namespace QuayAdmission.Tests.Fakes;

/// <summary>
/// <c>metadata.managedFields</c> as a real API server keeps them (../shared/kube-apiserver-responses):
/// one entry per manager and operation, named after the writer's User-Agent, with <c>fieldsV1</c> an
/// arbitrary JSON object. Every write adds or replaces its manager's entry and keeps the others, so an
/// object seeded by a test and then written by the webhook has several managers, as on a cluster.
/// The field sets are approximate (what the writer sent, lists as leaves): clients never read them,
/// they only have to carry them, and that is what this exercises.
/// </summary>
internal static class ManagedFields
{
    /// <summary>The manager a test's own seeding writes as, the name kubectl apply uses.</summary>
    public const string SeedManager = "kubectl-client-side-apply";

    // Server-set metadata no manager owns.
    private static readonly HashSet<string> ServerMetadata =
        ["name", "namespace", "uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "deletionTimestamp", "deletionGracePeriodSeconds"];

    /// <summary>As the API server names a manager that gives no fieldManager: the User-Agent up to its first '/'.</summary>
    public static string ManagerOf(HttpRequest request)
    {
        var agent = request.Headers.UserAgent.ToString();
        var prefix = agent.Split('/')[0].Trim();
        return prefix.Length == 0 ? "unknown" : prefix;
    }

    /// <summary>
    /// Sets <paramref name="obj"/>'s managedFields to <paramref name="kept"/> (the stored object's; what a
    /// client sends is ignored) with <paramref name="manager"/>'s Update entry replaced by the fields of
    /// <paramref name="written"/> (the request body) at <paramref name="now"/>.
    /// </summary>
    public static void Stamp<T>(T obj, IList<V1ManagedFieldsEntry>? kept, string manager, string apiVersion, JsonNode? written, DateTime now)
        where T : IKubernetesObject<V1ObjectMeta>
    {
        var entries = kept?.Where(e => !(e.Manager == manager && e.Operation == "Update" && e.Subresource is null)).ToList() ?? [];
        entries.Add(new V1ManagedFieldsEntry
        {
            Manager = manager,
            Operation = "Update",
            ApiVersion = apiVersion,
            Time = now,
            FieldsType = "FieldsV1",
            FieldsV1 = Element(FieldSet(written as JsonObject, top: true)),
        });
        obj.Metadata.ManagedFields = entries;
    }

    private static JsonElement Element(JsonNode node)
    {
        using var document = JsonDocument.Parse(node.ToJsonString());
        return document.RootElement.Clone();
    }

    // {"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:data":{".":{},"f:key":{}}}: a map's own
    // presence is "."; lists are leaves here (the real server keys their items with k: and v:).
    private static JsonObject FieldSet(JsonObject? written, bool top)
    {
        var set = new JsonObject();
        if (written is null)
        {
            return set;
        }

        foreach (var (name, value) in written)
        {
            if (top && name is "kind" or "apiVersion" or "status")
            {
                continue;
            }

            if (value is JsonObject inner && inner.Count > 0)
            {
                var innerSet = name == "metadata" && top ? MetadataSet(inner) : FieldSet(inner, top: false);
                if (!(top && name is "metadata" or "spec"))
                {
                    innerSet.Insert(0, ".", new JsonObject());
                }

                if (innerSet.Count > 0)
                {
                    set["f:" + name] = innerSet;
                }
            }
            else if (value is not null)
            {
                set["f:" + name] = new JsonObject();
            }
        }

        return set;
    }

    private static JsonObject MetadataSet(JsonObject metadata)
    {
        var owned = new JsonObject();
        foreach (var (name, value) in metadata)
        {
            if (!ServerMetadata.Contains(name))
            {
                owned[name] = value?.DeepClone();
            }
        }

        return FieldSet(owned, top: false);
    }
}
