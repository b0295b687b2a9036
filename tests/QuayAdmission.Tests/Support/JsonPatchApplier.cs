using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.JsonPatch.SystemTextJson;

namespace QuayAdmission.Tests.Support;

/// <summary>Applies a returned patch with an independent JSON Patch implementation, as the API server would.</summary>
public static class JsonPatchApplier
{
    public static JsonNode Apply(string documentJson, byte[] patchJson)
    {
        var document = JsonNode.Parse(documentJson)!;
        var patch = JsonSerializer.Deserialize<JsonPatchDocument>(patchJson)!;
        var errors = new List<string>();
        patch.ApplyTo(document, error => errors.Add(error.ErrorMessage));
        Assert.Empty(errors);
        return document;
    }

    public static IReadOnlyList<string> Ops(byte[] patchJson) =>
        JsonNode.Parse(patchJson)!.AsArray().Select(op => op!["op"]!.GetValue<string>()).ToList();
}
