using System.Text.Json;
using Microsoft.Extensions.Options;

namespace QuayAdmission.Admission;

/// <summary>
/// Settles a review before any work when its namespace says so: a namespace the webhook never acts
/// in is allowed unchanged, and a review whose object names another namespace than the request is
/// refused (kube-apiserver rejects such an object before admission, so only a forged review has one).
/// </summary>
public sealed partial class NamespaceRules(IOptions<NamespaceOptions> options, ILogger<NamespaceRules> logger)
{
    private readonly HashSet<string> excluded = options.Value.All.ToHashSet(StringComparer.Ordinal);

    /// <summary>The outcome when the namespace settles the review; null to go on deciding.</summary>
    public AdmissionOutcome? Settle(AdmissionRequest request)
    {
        var (hasObjectNamespace, objectNamespace) = ObjectNamespace(request.Object);
        if (!string.IsNullOrEmpty(request.Namespace) && hasObjectNamespace && request.Namespace != objectNamespace)
        {
            Mismatch(logger, request.Uid!);
            return new AdmissionOutcome.Denied(StatusCodes.Status400BadRequest,
                "the object's metadata.namespace differs from the request's namespace; kube-apiserver never sends such a review");
        }

        var ns = string.IsNullOrEmpty(request.Namespace) ? objectNamespace : request.Namespace;
        if (ns is null || !excluded.Contains(ns))
            return null;
        Excluded(logger, request.Uid!, ns);
        return new AdmissionOutcome.Allowed();
    }

    /// <summary>
    /// Whether the object names a namespace (a non-empty <c>metadata.namespace</c> string), and which:
    /// null when its text is not valid UTF-8, which then differs from any request namespace. A
    /// misshapen object is left for the pod reader to refuse.
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

    [LoggerMessage(EventId = 1101, Level = LogLevel.Information, Message = "Admission {Uid}: namespace {Namespace} is excluded; allowed unchanged")]
    private static partial void Excluded(ILogger logger, string uid, string @namespace);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Warning,
        Message = "Admission {Uid}: the object's namespace differs from the request's, which kube-apiserver never sends; denied")]
    private static partial void Mismatch(ILogger logger, string uid);
}
