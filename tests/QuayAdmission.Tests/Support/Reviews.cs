using System.Text.Json.Nodes;

namespace QuayAdmission.Tests.Support;

/// <summary>Builds AdmissionReview bodies as kube-apiserver sends them.</summary>
public static class Reviews
{
    public static string Create(string objectJson, string? uid = null, bool dryRun = false, string operation = "CREATE",
        string kind = "Pod", string? ns = null)
    {
        var obj = JsonNode.Parse(objectJson)!;
        var request = new JsonObject
        {
            ["uid"] = uid ?? Guid.NewGuid().ToString(),
            ["kind"] = new JsonObject { ["group"] = "", ["version"] = "v1", ["kind"] = kind },
            ["resource"] = new JsonObject { ["group"] = "", ["version"] = "v1", ["resource"] = kind.ToLowerInvariant() + "s" },
            ["requestKind"] = new JsonObject { ["group"] = "", ["version"] = "v1", ["kind"] = kind },
            ["namespace"] = ns ?? obj["metadata"]?["namespace"]?.GetValue<string>(),
            ["operation"] = operation,
            ["userInfo"] = new JsonObject { ["username"] = "system:serviceaccount:kube-system:replicaset-controller" },
            ["object"] = obj,
            ["oldObject"] = null,
            ["dryRun"] = dryRun,
            ["options"] = new JsonObject { ["apiVersion"] = "meta.k8s.io/v1", ["kind"] = "CreateOptions" },
        };
        if (obj["metadata"]?["name"] is { } name)
            request["name"] = name.GetValue<string>();
        return new JsonObject { ["apiVersion"] = "admission.k8s.io/v1", ["kind"] = "AdmissionReview", ["request"] = request }.ToJsonString();
    }
}
