using System.Text;
using QuayAdmission.Tests.Support;

namespace QuayAdmission.LoadBench;

/// <summary>One complete HTTP/1.1 request (head and body) for <c>POST /mutate</c>, built once before the clock starts.</summary>
internal sealed class BenchRequest
{
    private readonly byte[] uidField;

    private readonly bool allowDegraded;

    private BenchRequest(byte[] bytes, byte[] uidField, int bodyLength, bool allowDegraded)
    {
        Bytes = bytes;
        this.uidField = uidField;
        BodyLength = bodyLength;
        this.allowDegraded = allowDegraded;
    }

    public byte[] Bytes { get; }

    public int BodyLength { get; }

    /// <summary>
    /// An admission review of <paramref name="podJson"/>, as kube-apiserver sends it, with a fresh uid.
    /// <paramref name="allowDegraded"/>: an answer with a warning (token not ready yet) still counts as right.
    /// </summary>
    public static BenchRequest Review(string podJson, int port, bool allowDegraded = false)
    {
        var uid = Guid.NewGuid().ToString();
        var body = Encoding.UTF8.GetBytes(Reviews.Create(podJson, uid: uid));
        var head = Encoding.ASCII.GetBytes(
            $"POST /mutate?timeout=10s HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: kube-apiserver-admission\r\n" +
            $"Accept: application/json, */*\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n");
        return new BenchRequest([.. head, .. body], Encoding.UTF8.GetBytes($"\"uid\":\"{uid}\""), body.Length, allowDegraded);
    }

    /// <summary>
    /// Null when the answer is what a token-ready admission must be: 200, this request's uid, allowed,
    /// a JSON patch and no warnings (a warning means the token was not ready); else what is wrong.
    /// </summary>
    public string? Check(int status, ReadOnlySpan<byte> body)
    {
        if (status != 200)
            return $"HTTP {status}: {Excerpt(body)}";
        if (body.IndexOf(uidField) < 0)
            return $"uid not echoed: {Excerpt(body)}";
        if (body.IndexOf("\"allowed\":true"u8) < 0)
            return $"not allowed: {Excerpt(body)}";
        if (body.IndexOf("\"patchType\":\"JSONPatch\""u8) < 0)
            return $"no patch: {Excerpt(body)}";
        if (!allowDegraded && body.IndexOf("\"warnings\""u8) >= 0)
            return $"degraded (token not ready): {Excerpt(body)}";
        return null;
    }

    private static string Excerpt(ReadOnlySpan<byte> body) => Encoding.UTF8.GetString(body[..Math.Min(body.Length, 300)]);
}
