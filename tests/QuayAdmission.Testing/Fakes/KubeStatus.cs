using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace QuayAdmission.Tests.Fakes;

/// <summary>
/// The API server's <c>Status</c> answers, with the real messages and reasons, so client code
/// that reads <c>reason</c> or shows <c>message</c> is tested against what a cluster says.
/// Built as JSON by hand: the client's V1Status converter refuses to serialize.
/// </summary>
internal static class KubeStatus
{
    public static KubeReply NotFound(string resource, string name) =>
        Failure(404, "NotFound", $"{resource} \"{name}\" not found", name, resource);

    public static KubeReply AlreadyExists(string resource, string name) =>
        Failure(409, "AlreadyExists", $"{resource} \"{name}\" already exists", name, resource);

    public static KubeReply Conflict(string resource, string name, string why = "the object has been modified; please apply your changes to the latest version and try again") =>
        Failure(409, "Conflict", $"Operation cannot be fulfilled on {resource} \"{name}\": {why}", name, resource);

    public static KubeReply Invalid(string kind, string name, string field, string problem) =>
        Failure(422, "Invalid", $"{kind} \"{name}\" is invalid: {field}: {problem}", name, kind);

    public static KubeReply BadRequest(string message) => Failure(400, "BadRequest", message);

    /// <summary>410 Expired: a continue token older than the retained history.</summary>
    public static KubeReply Expired(string message) => Failure(410, "Expired", message);

    /// <summary>What a watch from a compacted resourceVersion gets, inside an ERROR event of a 200 stream.</summary>
    public static JsonObject TooOldResourceVersion(long requested, long oldest) =>
        FailureJson(410, "Expired", $"too old resource version: {requested} ({oldest})");

    /// <summary>The watch cache's answer to a list at a resourceVersion it has not reached (after waiting 3 s in a real cluster).</summary>
    public static KubeReply TooLargeResourceVersion(long requested, long current)
    {
        var status = FailureJson(504, "Timeout", $"Too large resource version: {requested}, current: {current}");
        status["details"] = new JsonObject
        {
            ["causes"] = new JsonArray(new JsonObject { ["reason"] = "ResourceVersionTooLarge", ["message"] = "Too large resource version" }),
            ["retryAfterSeconds"] = 1,
        };
        return Json(504, status);
    }

    public static KubeReply Success(string resource, string name, string? uid)
    {
        var details = new JsonObject { ["name"] = name, ["kind"] = resource, ["uid"] = uid };
        return Json(200, new JsonObject
        {
            ["kind"] = "Status",
            ["apiVersion"] = "v1",
            ["metadata"] = new JsonObject(),
            ["status"] = "Success",
            ["details"] = details,
        });
    }

    public static KubeReply Failure(int code, string? reason, string message, string? name = null, string? resource = null) =>
        Json(code, FailureJson(code, reason, message, name, resource));

    public static JsonObject FailureJson(int code, string? reason, string message, string? name = null, string? resource = null)
    {
        var status = new JsonObject
        {
            ["kind"] = "Status",
            ["apiVersion"] = "v1",
            ["metadata"] = new JsonObject(),
            ["status"] = "Failure",
            ["message"] = message,
            ["reason"] = reason ?? ReasonFor(code),
        };
        if (name is not null)
        {
            status["details"] = new JsonObject { ["name"] = name, ["kind"] = resource };
        }

        status["code"] = code;
        return status;
    }

    /// <summary>The <c>StatusReason</c> the API server pairs with a code (k8s.io/apimachinery metav1).</summary>
    public static string ReasonFor(int code) => code switch
    {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        409 => "Conflict",
        410 => "Expired",
        415 => "UnsupportedMediaType",
        422 => "Invalid",
        429 => "TooManyRequests",
        500 => "InternalError",
        503 => "ServiceUnavailable",
        504 => "Timeout",
        _ => "Unknown",
    };

    public static KubeReply Json(int code, JsonNode body) => KubeReply.Json(code, Serialize(body));

    public static string Serialize(JsonNode body) => body.ToJsonString(Options);

    // Messages read as the API server writes them ("secrets \"x\" not found"), not with \u0022 escapes.
    private static readonly JsonSerializerOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}
