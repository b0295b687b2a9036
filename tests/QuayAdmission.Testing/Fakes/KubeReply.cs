using System.Text;
using Microsoft.AspNetCore.Http;

namespace QuayAdmission.Tests.Fakes;

/// <summary>
/// A JSON answer of the fake Kubernetes API, kept as bytes: objects are stored serialized, so a list
/// is written as the stored items between a header and a footer, never serialized again per request.
/// </summary>
internal sealed class KubeReply(int code, IReadOnlyList<ReadOnlyMemory<byte>> parts) : IResult
{
    public int Code { get; } = code;

    public string? RetryAfter { get; init; }

    public static KubeReply Json(int code, byte[] body) => new(code, [body]);

    public KubeReply WithRetryAfter(string seconds) => new(Code, parts) { RetryAfter = seconds };

    public static KubeReply Json(int code, string body) => new(code, [Encoding.UTF8.GetBytes(body)]);

    public async Task ExecuteAsync(HttpContext httpContext)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        Start(httpContext.Response);
        foreach (var part in parts)
        {
            await httpContext.Response.Body.WriteAsync(part, httpContext.RequestAborted);
        }
    }

    /// <summary>Sends the status, the headers (with the full length) and half of the body, then ends the connection.</summary>
    public Task ExecuteTruncatedAsync(HttpContext httpContext)
    {
        var body = parts.SelectMany(p => p.ToArray()).ToArray();
        return TruncatedResponse.SendAsync(httpContext, Code, body.Length, body.AsMemory(0, body.Length / 2));
    }

    private void Start(HttpResponse response)
    {
        response.StatusCode = Code;
        response.ContentType = "application/json";
        response.ContentLength = parts.Sum(p => (long)p.Length);
        if (RetryAfter is not null)
        {
            response.Headers.RetryAfter = RetryAfter;
        }
    }
}
