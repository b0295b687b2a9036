using System.Text.Json.Nodes;

namespace QuayAdmission.Patching;

/// <summary>Where the Pod stands on the injected label: whether it has metadata and labels, and the label itself.</summary>
public sealed record InjectedLabelState(bool MetadataPresent, bool LabelsPresent, bool LabelPresent);

/// <summary>
/// Marks a Pod the webhook injected with <c>quay-admission.io/injected: "true"</c>, so the
/// refresher can watch just those Pods. Add-only like the pull Secret patch: a label already
/// there, whatever its value, is left as its writer set it.
/// </summary>
public static class InjectedLabelPatch
{
    private static readonly string MetadataPath = JsonPointer.Append("", "metadata");
    private static readonly string LabelsPath = JsonPointer.Append(MetadataPath, "labels");
    private static readonly string LabelPath = JsonPointer.Append(LabelsPath, WellKnown.InjectedLabel);

    public static IEnumerable<PatchOperation> Build(InjectedLabelState state)
    {
        if (state.LabelPresent)
            return [];
        var label = JsonValue.Create(WellKnown.InjectedValue);
        if (!state.MetadataPresent)
            return [PatchOperation.Add(MetadataPath, new JsonObject { ["labels"] = new JsonObject { [WellKnown.InjectedLabel] = label } })];
        if (!state.LabelsPresent)
            return [PatchOperation.Add(LabelsPath, new JsonObject { [WellKnown.InjectedLabel] = label })];
        return [PatchOperation.Add(LabelPath, label)];
    }
}
