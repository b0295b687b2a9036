using System.Buffers;
using System.Text;
using System.Text.Json.Nodes;
using QuayAdmission.Admission;

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

    /// <summary>What admission reads of <paramref name="review"/>: decoded as the endpoint decodes it, then read once.</summary>
    public static ReviewFacts Facts(string review)
    {
        using var document = AdmissionReviewDocument.Parse(new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(review)));
        return ReviewFacts.Read(document.Review!.Request!);
    }

    /// <summary>What admission reads of a Pod CREATE of <paramref name="pod"/> in team-a; the Pod must be readable.</summary>
    public static PodFacts PodFacts(string pod)
    {
        var facts = Facts(Create(pod, ns: "team-a"));
        return facts.Pod ?? throw new Xunit.Sdk.XunitException($"the pod cannot be read: {facts.Unreadable}");
    }
}
