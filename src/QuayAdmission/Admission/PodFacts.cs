using System.Text.Json;
using QuayAdmission.Kubernetes;
using QuayAdmission.Patching;
using QuayAdmission.PullSecrets;

namespace QuayAdmission.Admission;

/// <summary>
/// The few fields of the raw Pod JSON the decision reads, checked before any token work: types,
/// UTF-8, and names that go into API paths (KubernetesClient does not escape them).
/// </summary>
public sealed record PodFacts(
    PullSecretList PullSecrets,
    InjectedLabelState InjectedLabel,
    string Namespace,
    string DisplayName,
    string ServiceAccount,
    string? RobotAccounts,
    string? Inject,
    bool IsMirror)
{
    private const string DefaultServiceAccount = "default";

    public static PodFacts Read(AdmissionRequest request)
    {
        if (request.Object is not { ValueKind: JsonValueKind.Object } pod)
            throw new PodShapeException("request.object must be the Pod");

        var metadata = OptionalObject(pod, "metadata", "metadata");
        var ns = NonEmpty(request.Namespace) ?? NonEmpty(OptionalString(metadata, "namespace", "metadata.namespace"))
            ?? throw new PodShapeException("the request names no namespace");
        if (!KubernetesNames.IsDnsLabel(ns))
            throw new PodShapeException("the namespace is not a valid name");
        var name = NonEmpty(request.Name) ?? NonEmpty(OptionalString(metadata, "name", "metadata.name"));
        var displayName = name ?? (OptionalString(metadata, "generateName", "metadata.generateName") is { Length: > 0 } prefix ? prefix + "*" : "(unnamed)");

        var annotations = OptionalObject(metadata, "annotations", "metadata.annotations");
        var spec = OptionalObject(pod, "spec", "spec");
        var serviceAccount = NonEmpty(OptionalString(spec, "serviceAccountName", "spec.serviceAccountName")) ?? DefaultServiceAccount;
        if (!KubernetesNames.IsDnsSubdomain(serviceAccount))
            throw new PodShapeException("spec.serviceAccountName is not a valid name");

        return new PodFacts(
            ImagePullSecretsPatch.Read(pod),
            InjectedLabelPatch.Read(pod),
            ns,
            displayName,
            serviceAccount,
            OptionalString(annotations, WellKnown.RobotAccountAnnotation, "the robot-account annotation"),
            OptionalString(annotations, WellKnown.InjectAnnotation, "the inject annotation"),
            annotations is { } a && a.TryGetProperty(WellKnown.MirrorPodAnnotation, out _));
    }

    private static JsonElement? OptionalObject(JsonElement? parent, string property, string path)
    {
        if (parent is not { } p || !p.TryGetProperty(property, out var value) || value.ValueKind == JsonValueKind.Null)
            return null;
        return value.ValueKind == JsonValueKind.Object ? value : throw new PodShapeException($"{path} must be an object");
    }

    private static string? OptionalString(JsonElement? parent, string property, string path)
    {
        if (parent is not { } p || !p.TryGetProperty(property, out var value) || value.ValueKind == JsonValueKind.Null)
            return null;
        return value.ValueKind == JsonValueKind.String ? PodShapeException.Text(value, path) : throw new PodShapeException($"{path} must be a string");
    }

    private static string? NonEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
