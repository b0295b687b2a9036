using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Http;

namespace QuayAdmission.Tests.Fakes;

public sealed partial class FakeQuay
{
    /// <summary>
    /// A stand-in whose federation endpoint lives under <paramref name="pathBase"/> (e.g. <c>/quay</c>, a Quay
    /// behind a reverse proxy path), served over TLS with <paramref name="certificate"/> (with its key) and the
    /// intermediate <paramref name="chain"/> it sends in the handshake, or over plain http without a certificate.
    /// </summary>
    public static async Task<FakeQuay> StartAsync(
        TimeProvider time, string pathBase, X509Certificate2? certificate = null, X509Certificate2Collection? chain = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(time);
        var quay = new FakeQuay(time, https: false);
        try
        {
            quay._server = await LoopbackServer.StartAsync(context => quay.HandleUnderAsync(context, pathBase), certificate, ct, chain: chain);
            return quay;
        }
        catch
        {
            await quay.DisposeAsync();
            throw;
        }
    }

    private Task HandleUnderAsync(HttpContext context, PathString pathBase)
    {
        if (!context.Request.Path.StartsWithSegments(pathBase, out var rest))
        {
            return WriteAsync(context, 404, Error("not found"));
        }

        context.Request.Path = rest;
        return HandleAsync(context);
    }
}
