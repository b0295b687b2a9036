using System.Buffers;
using System.IO.Pipelines;
using System.Net.Mime;
using System.Text.Json;
using Microsoft.Net.Http.Headers;

namespace QuayAdmission.Admission;

/// <summary>
/// The transport: bytes in, AdmissionReview out. It decodes, hands the request to
/// <see cref="PullSecretInjector"/> and encodes what it answers (even a crash's answer is the
/// decision's); it never decides anything about a Pod.
/// </summary>
public static class AdmissionEndpoint
{
    // kube-apiserver decodes no request body larger than 3 MiB (MaxRequestBodyBytes = 3 * 1024 * 1024 in
    // k8s.io/apiserver/pkg/server/config.go, NewConfig: twice etcd's 1.5 MiB, for JSON that shrinks to
    // protobuf), so the Pod in a CREATE review is at most that. We intercept CREATE only (no oldObject);
    // half a MiB more covers the envelope: uid, kind, userInfo, options.
    public const int MaxBodyBytes = 3 * 1024 * 1024 + 512 * 1024;

    // kube-apiserver sends a UUID; anything far longer is not from it, and would be echoed and logged.
    private const int MaxUidLength = 128;

    private static readonly (AdmissionReviewDocument?, int, string) TooLarge = (null, StatusCodes.Status413PayloadTooLarge, $"body larger than {MaxBodyBytes} bytes");

    private static readonly (AdmissionReviewDocument?, int, string) Busy =
        (null, StatusCodes.Status503ServiceUnavailable, "too many review bodies are being read at once; retry");

    public static IEndpointRouteBuilder MapAdmission(this IEndpointRouteBuilder app)
    {
        // Resolved now, not by the first review: building the graph (the Kubernetes client reads its
        // kubeconfig) inside a burst of first admissions stalls them all on the container's lock.
        var services = app.ServiceProvider;
        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(AdmissionEndpoint).FullName!);
        var injector = services.GetRequiredService<PullSecretInjector>();
        var budget = services.GetRequiredService<BodyBudget>();
        app.MapPost("/mutate", (HttpContext context) => HandleAsync(context, injector, budget, logger));
        return app;
    }

    private static async Task HandleAsync(HttpContext context, PullSecretInjector injector, BodyBudget budget, ILogger logger)
    {
        // Reviews name pods and service accounts: they travel only over TLS, never on the plain health port.
        if (!context.Request.IsHttps)
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        // Held until the answer is written: the decoded review keeps the Pod (in pooled memory) while it is decided.
        using var body = budget.Open();
        var (document, status, reason) = await ReadReviewAsync(context.Request, body, context.RequestAborted);
        using var held = document;
        if (document?.Review?.Request is not { } request)
        {
            AdmissionLog.BadReview(logger, status, reason);
            context.Response.StatusCode = status;
            if (status == StatusCodes.Status503ServiceUnavailable)
                context.Response.Headers.RetryAfter = "1";
            context.Response.ContentType = MediaTypeNames.Text.Plain;
            await context.Response.WriteAsync(reason + "\n", context.RequestAborted);
            return;
        }

        var outcome = await injector.DecideAsync(request, context.RequestAborted);

        context.Response.ContentType = MediaTypeNames.Application.Json;
        var answer = new AdmissionReview
        {
            ApiVersion = AdmissionReview.V1,
            Kind = AdmissionReview.ReviewKind,
            Response = outcome.ToResponse(request.Uid!),
        };
        await JsonSerializer.SerializeAsync(context.Response.Body, answer, AdmissionJsonContext.Default.AdmissionReview, context.RequestAborted);
    }

    /// <summary>Decodes and checks the envelope; on failure, the status code and a one-line reason. The caller disposes the review.</summary>
    internal static async Task<(AdmissionReviewDocument? Review, int Status, string Reason)> ReadReviewAsync(HttpRequest http, BodyBudget.Lease budget, CancellationToken ct)
    {
        if (!MediaTypeHeaderValue.TryParse(http.ContentType, out var type) || !type.MediaType.Equals(MediaTypeNames.Application.Json, StringComparison.OrdinalIgnoreCase))
            return (null, StatusCodes.Status415UnsupportedMediaType, "content type must be application/json");
        if (http.ContentLength > MaxBodyBytes)
            return TooLarge;

        // Read whole from the request's pipe, then parsed once (AdmissionReviewDocument).
        var body = http.BodyReader;
        ReadResult read;
        try
        {
            while (true)
            {
                read = await body.ReadAsync(ct);
                if (read.Buffer.Length > MaxBodyBytes)
                {
                    body.AdvanceTo(read.Buffer.End);
                    return TooLarge; // a chunked body has no Content-Length to check up front
                }
                if (!budget.TryGrowTo(read.Buffer.Length))
                {
                    body.AdvanceTo(read.Buffer.End);
                    return Busy;
                }
                if (read.IsCompleted)
                    break;
                body.AdvanceTo(read.Buffer.Start, read.Buffer.End);
            }
        }
        catch (BadHttpRequestException e)
        {
            return (null, e.StatusCode, "the request body could not be read");
        }

        try
        {
            return Decode(read.Buffer);
        }
        finally
        {
            body.AdvanceTo(read.Buffer.End);
        }
    }

    private static (AdmissionReviewDocument? Review, int Status, string Reason) Decode(ReadOnlySequence<byte> body)
    {
        if (body.IsEmpty)
            return (null, StatusCodes.Status400BadRequest, "empty body");

        AdmissionReviewDocument document;
        try
        {
            document = AdmissionReviewDocument.Parse(body);
        }
        catch (JsonException e)
        {
            return (null, StatusCodes.Status400BadRequest, $"body is not an AdmissionReview: {OneLine(e.Message)}");
        }

        var reason = document.Review switch
        {
            null => "body is not an AdmissionReview",
            { ApiVersion: not AdmissionReview.V1 } => $"apiVersion must be {AdmissionReview.V1}",
            { Kind: not AdmissionReview.ReviewKind } => $"kind must be {AdmissionReview.ReviewKind}",
            { Request: null } => "the review has no request",
            { Request.Uid: null or "" } => "the request has no uid",
            { Request.Uid.Length: > MaxUidLength } => $"the request uid is longer than {MaxUidLength} characters",
            _ => null,
        };
        if (reason is null)
            return (document, StatusCodes.Status200OK, "");
        document.Dispose();
        return (null, StatusCodes.Status400BadRequest, reason);
    }

    private static string OneLine(string text)
    {
        var line = text.ReplaceLineEndings(" ");
        return line.Length <= 200 ? line : line[..200] + "...";
    }
}
