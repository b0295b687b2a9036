using System.Text.Json.Nodes;

namespace QuayAdmission.Tests.Support;

/// <summary>Pod JSON fixtures, as raw as the API server sends them.</summary>
public static class Pods
{
    /// <summary>A pod with fields no C# model of ours knows, in places a careless patch would rewrite.</summary>
    public const string WithUnknownFields = """
        {
          "apiVersion": "v1",
          "kind": "Pod",
          "metadata": {
            "name": "web-0",
            "namespace": "team-a",
            "annotations": { "quay-admission.io/robot-account": "acme+puller", "example.com/a/b~c": "x" },
            "x-future-metadata": { "nested": [1, 2, { "deep": true }] }
          },
          "spec": {
            "containers": [ { "name": "app", "image": "quay.io/acme/app:1", "x-future-container-field": "keep" } ],
            "x-future-spec-field": { "keep": "me" },
            "hostUsers": false
          },
          "status": {}
        }
        """;

    public static string Json(
        string? robotAccount = "acme+puller",
        string? name = "web-0",
        string? generateName = null,
        string ns = "team-a",
        string? serviceAccount = null,
        string[]? pullSecrets = null,
        IDictionary<string, string>? annotations = null)
    {
        var meta = new JsonObject { ["namespace"] = ns };
        if (name is not null)
            meta["name"] = name;
        if (generateName is not null)
            meta["generateName"] = generateName;
        var allAnnotations = new JsonObject();
        if (robotAccount is not null)
            allAnnotations["quay-admission.io/robot-account"] = robotAccount;
        foreach (var (key, value) in annotations ?? new Dictionary<string, string>())
            allAnnotations[key] = value;
        if (allAnnotations.Count > 0)
            meta["annotations"] = allAnnotations;

        var spec = new JsonObject
        {
            ["containers"] = new JsonArray(new JsonObject { ["name"] = "app", ["image"] = "quay.io/acme/app:1" }),
        };
        if (serviceAccount is not null)
            spec["serviceAccountName"] = serviceAccount;
        if (pullSecrets is not null)
            spec["imagePullSecrets"] = new JsonArray(pullSecrets.Select(n => (JsonNode)new JsonObject { ["name"] = n }).ToArray());

        return new JsonObject { ["apiVersion"] = "v1", ["kind"] = "Pod", ["metadata"] = meta, ["spec"] = spec }.ToJsonString();
    }
}
