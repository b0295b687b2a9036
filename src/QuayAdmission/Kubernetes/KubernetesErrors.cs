using System.Net;
using k8s.Autorest;

namespace QuayAdmission.Kubernetes;

internal static class KubernetesErrors
{
    public static bool IsStatus(this Exception e, HttpStatusCode code) =>
        e is HttpOperationException { Response.StatusCode: var status } && status == code;

    /// <summary>A one-line description of a failed API call: the status code and reason, never a response body.</summary>
    public static string Describe(Exception e) => e switch
    {
        HttpOperationException { Response: { } response } => $"{(int)response.StatusCode} {response.ReasonPhrase}".TrimEnd(),
        HttpRequestException http => $"unreachable ({http.HttpRequestError})",
        TaskCanceledException or TimeoutException => "timed out",
        _ => e.GetType().Name,
    };
}
