using System.Buffers;
using System.Text.Json;

namespace QuayAdmission.Admission;

/// <summary>
/// A review body tokenized once: one <see cref="JsonDocument"/> over pooled memory, the envelope's
/// fields read out of it, and the Pod left in it as a <see cref="JsonElement"/> (no copy, no second
/// parse). The Pod element is valid until <see cref="Dispose"/>, which returns the memory.
/// </summary>
public sealed class AdmissionReviewDocument : IDisposable
{
    // Two parsers must never read two different reviews out of one body.
    private static readonly JsonDocumentOptions Options = new() { AllowDuplicateProperties = false };

    private readonly JsonDocument document;
    private byte[]? buffer;

    private AdmissionReviewDocument(JsonDocument document, byte[] buffer)
    {
        this.document = document;
        this.buffer = buffer;
        Review = ReadEnvelope(document.RootElement);
    }

    /// <summary>The envelope; null when the body is the JSON <c>null</c>.</summary>
    public AdmissionReview? Review { get; }

    /// <summary>Parses <paramref name="body"/>; a <see cref="JsonException"/> says why it is not an AdmissionReview.</summary>
    public static AdmissionReviewDocument Parse(ReadOnlySequence<byte> body)
    {
        // A copy into pooled memory, so the caller may hand the request's buffers back at once.
        var length = checked((int)body.Length);
        var buffer = ArrayPool<byte>.Shared.Rent(length);
        JsonDocument? document = null;
        try
        {
            body.CopyTo(buffer);
            document = JsonDocument.Parse(buffer.AsMemory(0, length), Options);
            return new AdmissionReviewDocument(document, buffer);
        }
        catch
        {
            document?.Dispose();
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
    }

    public void Dispose()
    {
        document.Dispose();
        if (Interlocked.Exchange(ref buffer, null) is { } returned)
            ArrayPool<byte>.Shared.Return(returned);
    }

    private static AdmissionReview? ReadEnvelope(JsonElement root)
    {
        if (root.ValueKind == JsonValueKind.Null)
            return null;
        Require(root, JsonValueKind.Object, "the body");
        return new AdmissionReview
        {
            ApiVersion = String(root, "apiVersion"u8, "apiVersion"),
            Kind = String(root, "kind"u8, "kind"),
            Request = Object(root, "request"u8, "request") is { } request ? ReadRequest(request) : null,
        };
    }

    private static AdmissionRequest ReadRequest(JsonElement request) => new()
    {
        Uid = String(request, "uid"u8, "request.uid"),
        Kind = Object(request, "kind"u8, "request.kind") is { } kind
            ? new GroupVersionKind(String(kind, "group"u8, "request.kind.group"), String(kind, "version"u8, "request.kind.version"), String(kind, "kind"u8, "request.kind.kind"))
            : null,
        Namespace = String(request, "namespace"u8, "request.namespace"),
        Name = String(request, "name"u8, "request.name"),
        Operation = String(request, "operation"u8, "request.operation"),
        SubResource = String(request, "subResource"u8, "request.subResource"),
        // Whatever it holds: the decision checks the Pod's shape and answers for it.
        Object = request.TryGetProperty("object"u8, out var pod) && pod.ValueKind != JsonValueKind.Null ? pod : null,
        DryRun = request.TryGetProperty("dryRun"u8, out var dryRun) ? dryRun.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            JsonValueKind.Null => null,
            _ => throw new JsonException("request.dryRun must be a boolean"),
        } : null,
    };

    private static JsonElement? Object(JsonElement parent, ReadOnlySpan<byte> name, string path)
    {
        if (!parent.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
            return null;
        Require(value, JsonValueKind.Object, path);
        return value;
    }

    private static string? String(JsonElement parent, ReadOnlySpan<byte> name, string path)
    {
        if (!parent.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
            return null;
        Require(value, JsonValueKind.String, path);
        try
        {
            return value.GetString();
        }
        catch (InvalidOperationException)
        {
            throw new JsonException($"{path} is not valid UTF-8 text");
        }
    }

    private static void Require(JsonElement value, JsonValueKind kind, string path)
    {
        if (value.ValueKind != kind)
            throw new JsonException($"{path} must be {(kind == JsonValueKind.Object ? "an object" : "a string")}, not {value.ValueKind.ToString().ToLowerInvariant()}");
    }
}
