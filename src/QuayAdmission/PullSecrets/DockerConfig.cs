using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace QuayAdmission.PullSecrets;

/// <summary>The <c>.dockerconfigjson</c> payload a kubelet reads for a pull.</summary>
public static class DockerConfig
{
    public static readonly byte[] Empty = """{"auths":{}}"""u8.ToArray();

    public static byte[] For(string registryHost, string robot, string token)
    {
        var auth = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{robot}:{token}"));
        using var buffer = new MemoryStream();
        // Relaxed escaping keeps robot names readable ("acme+puller", not "acme\u002Bpuller"); this JSON never meets HTML.
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteStartObject("auths");
            json.WriteStartObject(registryHost);
            json.WriteString("username", robot);
            json.WriteString("password", token);
            json.WriteString("auth", auth);
            json.WriteEndObject();
            json.WriteEndObject();
            json.WriteEndObject();
        }
        return buffer.ToArray();
    }
}
