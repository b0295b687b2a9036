using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using k8s.Models;

namespace QuayAdmission.Kubernetes;

/// <summary>
/// The only Kubernetes types the webhook reads or writes, so a native build keeps these and not the
/// client's whole model set (see <see cref="KubernetesApi"/>). Options as the client's own: nulls
/// omitted, times in RFC 3339 with microseconds. <see cref="JsonElement"/> is what the models' few
/// <c>object</c> members (managedFields' <c>fieldsV1</c>) hold once read from a real API server:
/// without it an object read could not be written again (the webhook writes none back, but a log or
/// a test may serialize one). Reflection-based serialization is off in every build and test run
/// (Directory.Build.props), so a type missing here fails the JIT tests, not a cluster.
/// </summary>
[JsonSourceGenerationOptions(
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    Converters = [typeof(Rfc3339TimeConverter)])]
[JsonSerializable(typeof(V1Secret))]
[JsonSerializable(typeof(V1SecretList))]
[JsonSerializable(typeof(V1DeleteOptions))]
[JsonSerializable(typeof(V1ServiceAccount))]
[JsonSerializable(typeof(V1Namespace))]
[JsonSerializable(typeof(Authenticationv1TokenRequest))]
[JsonSerializable(typeof(Corev1Event))]
[JsonSerializable(typeof(V1Lease))]
[JsonSerializable(typeof(PodView))]
[JsonSerializable(typeof(PodViewList))]
[JsonSerializable(typeof(JsonElement))]
public sealed partial class KubernetesJsonContext : JsonSerializerContext;

/// <summary>
/// Kubernetes times: written as RFC 3339 in UTC with microseconds (which both metav1.Time and
/// metav1.MicroTime accept, and which a Lease's renewTime needs); read from RFC 3339 with any number
/// of fractional digits, as the API writes seconds for most times and microseconds for MicroTime.
/// </summary>
public sealed class Rfc3339TimeConverter : JsonConverter<DateTime>
{
    public override DateTime Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        DateTimeOffset.TryParse(reader.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var value)
            ? value.UtcDateTime
            : throw new JsonException("a time that is not RFC 3339");

    public override void Write(Utf8JsonWriter writer, DateTime value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value.ToUniversalTime().ToString("yyyy'-'MM'-'dd'T'HH':'mm':'ss.ffffff'Z'", CultureInfo.InvariantCulture));
}
