using System.Text.Json;
using QuayAdmission.Kubernetes;
using QuayAdmission.Patching;

namespace QuayAdmission.Admission;

/// <summary>
/// What the decision knows of one review, read once from its envelope and its raw Pod JSON: the
/// only reader of the Pod in admission. <see cref="Pod"/> is null when the review is not a Pod
/// CREATE, or when the Pod cannot be read (<see cref="Unreadable"/> says why).
/// </summary>
/// <param name="Namespace">The request's namespace, else the object's <c>metadata.namespace</c>; what exclusion is decided on.</param>
/// <param name="ForeignNamespace">
/// The object names another namespace than the request: kube-apiserver rejects such an object
/// before admission, so only a forged review has one.
/// </param>
public sealed record ReviewFacts(bool DryRun, string? Namespace, bool ForeignNamespace, bool IsPodCreate, PodFacts? Pod, string? Unreadable)
{
    public static ReviewFacts Read(AdmissionRequest request)
    {
        var (named, objectNamespace) = ObjectNamespace(request.Object);
        var foreign = !string.IsNullOrEmpty(request.Namespace) && named && request.Namespace != objectNamespace;
        var ns = string.IsNullOrEmpty(request.Namespace) ? objectNamespace : request.Namespace;
        var isPodCreate = request.Kind is { Group: "" or null, Kind: "Pod" }
            && request.Operation == "CREATE"
            && string.IsNullOrEmpty(request.SubResource);

        PodFacts? pod = null;
        string? unreadable = null;
        if (isPodCreate && !foreign)
        {
            try
            {
                pod = PodFacts.Read(request);
            }
            catch (PodShapeException e)
            {
                unreadable = e.Message;
            }
        }
        return new ReviewFacts(request.DryRun == true, ns, foreign, isPodCreate, pod, unreadable);
    }

    /// <summary>
    /// Whether the object names a namespace (a non-empty <c>metadata.namespace</c> string), and which:
    /// null when its text is not valid UTF-8, which then differs from any request namespace. Lenient:
    /// a misshapen object is left for <see cref="PodFacts.Read"/> to refuse.
    /// </summary>
    private static (bool Named, string? Namespace) ObjectNamespace(JsonElement? obj)
    {
        if (obj is not { ValueKind: JsonValueKind.Object } o
            || !o.TryGetProperty("metadata", out var metadata) || metadata.ValueKind != JsonValueKind.Object
            || !metadata.TryGetProperty("namespace", out var ns) || ns.ValueKind != JsonValueKind.String)
            return (false, null);
        try
        {
            var text = ns.GetString();
            return (!string.IsNullOrEmpty(text), text);
        }
        catch (InvalidOperationException)
        {
            return (true, null);
        }
    }
}

/// <summary>
/// The few fields of a Pod CREATE the decision and the patch read, checked before any token work:
/// types, UTF-8, and names that go into API paths (KubernetesClient does not escape them).
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

    /// <summary>Throws <see cref="PodShapeException"/> with a reason fit for the denial when the Pod cannot be read.</summary>
    internal static PodFacts Read(AdmissionRequest request)
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
        var spec = OptionalObject(pod, "spec", "spec") ?? throw new PodShapeException("the pod has no spec");
        var serviceAccount = NonEmpty(OptionalString(spec, "serviceAccountName", "spec.serviceAccountName")) ?? DefaultServiceAccount;
        if (!KubernetesNames.IsDnsSubdomain(serviceAccount))
            throw new PodShapeException("spec.serviceAccountName is not a valid name");

        return new PodFacts(
            PullSecretsOf(spec),
            InjectedLabelOf(metadata),
            ns,
            displayName,
            serviceAccount,
            OptionalString(annotations, WellKnown.RobotAccountAnnotation, "the robot-account annotation"),
            OptionalString(annotations, WellKnown.InjectAnnotation, "the inject annotation"),
            annotations is { } a && a.TryGetProperty(WellKnown.MirrorPodAnnotation, out _));
    }

    /// <summary><c>spec.imagePullSecrets</c>: the names listed, and whether the field is there at all.</summary>
    private static PullSecretList PullSecretsOf(JsonElement spec)
    {
        if (!spec.TryGetProperty("imagePullSecrets", out var list) || list.ValueKind == JsonValueKind.Null)
            return PullSecretList.Absent;
        if (list.ValueKind != JsonValueKind.Array)
            throw new PodShapeException("spec.imagePullSecrets is not an array");

        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in list.EnumerateArray())
        {
            if (entry.ValueKind != JsonValueKind.Object)
                throw new PodShapeException("spec.imagePullSecrets entries must be objects");
            if (entry.TryGetProperty("name", out var reference) && reference.ValueKind == JsonValueKind.String)
                names.Add(PodShapeException.Text(reference, "spec.imagePullSecrets[].name"));
        }
        return new PullSecretList(true, names);
    }

    /// <summary>Whether <c>metadata</c>, <c>metadata.labels</c> and the injected label are there.</summary>
    private static InjectedLabelState InjectedLabelOf(JsonElement? metadata)
    {
        var labels = OptionalObject(metadata, "labels", "metadata.labels");
        return new InjectedLabelState(metadata is not null, labels is not null, labels is { } l && l.TryGetProperty(WellKnown.InjectedLabel, out _));
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

/// <summary>The pod JSON is not shaped like a Pod where we need to read it; the message is the denial's.</summary>
internal sealed class PodShapeException(string message) : Exception(message)
{
    /// <summary>A string value, refusing text that is not valid UTF-8 (System.Text.Json only finds out on reading it).</summary>
    public static string Text(JsonElement value, string path)
    {
        try
        {
            return value.GetString()!;
        }
        catch (InvalidOperationException)
        {
            throw new PodShapeException($"{path} is not valid UTF-8 text");
        }
    }
}
