using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using k8s;
using k8s.Authentication;
using k8s.Autorest;
using k8s.Models;

namespace QuayAdmission.Kubernetes;

/// <summary>
/// The Kubernetes API calls the webhook makes, and only those, over an HttpClient built from the
/// client library's configuration (in-cluster or kubeconfig: the server, its CA, the bearer token and
/// its refresh, client certificates). Neither the library's <c>Kubernetes</c> class nor its typed
/// operations are used: both reach KubernetesClient.Aot's one source-generated JSON context, which
/// names all ~800 models, so either keeps every model in the native image (17 MB of a 37 MB
/// executable) and has the runtime rehydrate their type data at every start (bench/notes.md). Our
/// context names the dozen types below. Failures surface as the library's own
/// <see cref="HttpOperationException"/>, and a call that outlives <see cref="Timeout"/> as a
/// <see cref="TaskCanceledException"/>, as they did with the typed operations.
/// Nothing read from the API is written back as read: a real API server's objects carry fields
/// (managedFields, others' labels and annotations) that are not the webhook's, so writes are a
/// merge patch of the webhook's own fields (Secrets) or an object built afresh (the Lease).
/// </summary>
public sealed class KubernetesApi : IPodLister, IDisposable
{
    private static readonly MediaTypeHeaderValue Json = MediaTypeHeaderValue.Parse("application/json; charset=utf-8");
    private static readonly MediaTypeHeaderValue MergePatch = MediaTypeHeaderValue.Parse("application/merge-patch+json; charset=utf-8");
    private static readonly KubernetesJsonContext Context = KubernetesJsonContext.Default;

    private readonly Uri baseUri;
    private readonly HttpClient http;
    private readonly ServiceClientCredentials? credentials;

    /// <param name="config">The server and how to trust and authenticate to it.</param>
    /// <param name="handler">A handler between this client and the network (tests use one to cut the network).</param>
    /// <param name="liveness">How a dead connection is noticed; <see cref="ConnectionLiveness.ClientGo"/> unless a test shortens it.</param>
    public KubernetesApi(KubernetesClientConfiguration config, DelegatingHandler? handler = null, ConnectionLiveness? liveness = null)
    {
        if (!Uri.TryCreate(config.Host, UriKind.Absolute, out var host))
            throw new ArgumentException($"the Kubernetes API server '{config.Host}' is not an absolute URL", nameof(config));
        baseUri = new Uri(host.AbsoluteUri.TrimEnd('/') + "/");
        Timeout = config.HttpClientTimeout;
        credentials = Credentials(config);

        HttpMessageHandler network = Network(config, liveness ?? ConnectionLiveness.ClientGo);
        if (handler is not null)
        {
            handler.InnerHandler = network;
            network = handler;
        }
        // Each call has its own deadline (Timeout) and watches have none, so the client has none.
        http = new HttpClient(network) { Timeout = System.Threading.Timeout.InfiniteTimeSpan };
        http.DefaultRequestHeaders.UserAgent.ParseAdd(UserAgent);
    }

    /// <summary>
    /// <c>quay-admission/&lt;version&gt; (linux/&lt;arch&gt;)</c>, as client-go names its binaries: audit
    /// logs, API Priority and Fairness and the field managers of what it writes show the webhook by name.
    /// </summary>
    public static string UserAgent { get; } = $"quay-admission/{Version()} (linux/{GoArch()})";

    /// <summary>How long one call may take, headers and body; for a watch, its headers only.</summary>
    public TimeSpan Timeout { get; set; }

    public void Dispose() => http.Dispose();

    public Task<V1Secret> ReadSecretAsync(string ns, string name, CancellationToken ct) =>
        SendAsync(HttpMethod.Get, Namespaced(Core, ns, "secrets", name), null, Context.V1Secret, ct);

    public Task<V1Secret> CreateSecretAsync(V1Secret secret, CancellationToken ct) =>
        SendAsync(HttpMethod.Post, Namespaced(Core, secret.Metadata.NamespaceProperty, "secrets"), Body(secret, Context.V1Secret), Context.V1Secret, ct);

    /// <summary>
    /// A JSON merge patch of <paramref name="patch"/> (only the fields it sets) onto the Secret. With
    /// <c>metadata.resourceVersion</c> set it applies only to that version (a 409 otherwise).
    /// </summary>
    public Task<V1Secret> PatchSecretAsync(string ns, string name, V1Secret patch, CancellationToken ct) =>
        SendAsync(HttpMethod.Patch, Namespaced(Core, ns, "secrets", name), Body(patch, Context.V1Secret, MergePatch), Context.V1Secret, ct);

    /// <summary>Deletes the Secret only if it still has <paramref name="resourceVersion"/> (a 409 otherwise).</summary>
    public Task DeleteSecretAsync(string ns, string name, string resourceVersion, CancellationToken ct)
    {
        var options = new V1DeleteOptions { Preconditions = new V1Preconditions { ResourceVersion = resourceVersion } };
        return SendAsync(HttpMethod.Delete, Namespaced(Core, ns, "secrets", name), Body(options, Context.V1DeleteOptions), ct);
    }

    /// <summary>One page of Secrets in every namespace.</summary>
    public Task<V1SecretList> ListSecretsAsync(string? labelSelector, int? limit, string? continueToken, CancellationToken ct) =>
        SendAsync(HttpMethod.Get, "api/v1/secrets" + Query(labelSelector, limit, continueToken), null, Context.V1SecretList, ct);

    /// <summary>One page of Pods, in <paramref name="ns"/> or, when null, in every namespace; only the fields <see cref="PodView"/> keeps.</summary>
    public Task<PodViewList> ListPodsAsync(string? ns, string? labelSelector, int? limit, string? continueToken, CancellationToken ct) =>
        SendAsync(HttpMethod.Get, (ns is null ? "api/v1/pods" : Namespaced(Core, ns, "pods")) + Query(labelSelector, limit, continueToken), null, Context.PodViewList, ct);

    public Task<V1ServiceAccount> ReadServiceAccountAsync(string ns, string name, CancellationToken ct) =>
        SendAsync(HttpMethod.Get, Namespaced(Core, ns, "serviceaccounts", name), null, Context.V1ServiceAccount, ct);

    public Task<V1Namespace> ReadNamespaceAsync(string name, CancellationToken ct) =>
        SendAsync(HttpMethod.Get, NamespacePath(name), null, Context.V1Namespace, ct);

    public Task<Authenticationv1TokenRequest> CreateTokenAsync(string ns, string serviceAccount, Authenticationv1TokenRequest request, CancellationToken ct) =>
        SendAsync(HttpMethod.Post, Namespaced(Core, ns, "serviceaccounts", serviceAccount, "token"), Body(request, Context.Authenticationv1TokenRequest), Context.Authenticationv1TokenRequest, ct);

    public Task<Corev1Event> CreateEventAsync(Corev1Event item, CancellationToken ct) =>
        SendAsync(HttpMethod.Post, Namespaced(Core, item.Metadata.NamespaceProperty, "events"), Body(item, Context.Corev1Event), Context.Corev1Event, ct);

    public Task<V1Lease> ReadLeaseAsync(string ns, string name, CancellationToken ct) =>
        SendAsync(HttpMethod.Get, Namespaced(Coordination, ns, "leases", name), null, Context.V1Lease, ct);

    public Task<V1Lease> CreateLeaseAsync(V1Lease lease, CancellationToken ct) =>
        SendAsync(HttpMethod.Post, Namespaced(Coordination, lease.Metadata.NamespaceProperty, "leases"), Body(lease, Context.V1Lease), Context.V1Lease, ct);

    /// <summary>Replaces the Lease only if it still has the resourceVersion <paramref name="lease"/> carries (a 409 otherwise).</summary>
    public Task<V1Lease> ReplaceLeaseAsync(V1Lease lease, CancellationToken ct) =>
        SendAsync(HttpMethod.Put, Namespaced(Coordination, lease.Metadata.NamespaceProperty, "leases", lease.Metadata.Name), Body(lease, Context.V1Lease), Context.V1Lease, ct);

    /// <summary>
    /// Opens a watch (<paramref name="relativeUri"/> with <c>watch=true</c>) and returns once its
    /// headers arrive. The client's timeout bounds the headers only; the stream is the caller's.
    /// </summary>
    public async Task<HttpResponseMessage> OpenWatchAsync(string relativeUri, CancellationToken ct)
    {
        // HTTP/2 where the server offers it, as for every call: its pings find a dead connection under a silent watch.
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(baseUri, relativeUri)) { Version = HttpVersion.Version20 };
        using var headers = CancellationTokenSource.CreateLinkedTokenSource(ct);
        headers.CancelAfter(Timeout);
        if (credentials is not null)
            await credentials.ProcessHttpRequestAsync(request, headers.Token);
        return await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, headers.Token);
    }

    private async Task<T> SendAsync<T>(HttpMethod method, string relativeUri, HttpContent? body, JsonTypeInfo<T> answer, CancellationToken ct)
    {
        using var call = CancellationTokenSource.CreateLinkedTokenSource(ct);
        call.CancelAfter(Timeout);
        using var response = await SendCoreAsync(method, relativeUri, body, call.Token);
        await using var stream = await response.Content.ReadAsStreamAsync(call.Token);
        return await JsonSerializer.DeserializeAsync(stream, answer, call.Token)
            ?? throw new InvalidDataException($"{method} {relativeUri} answered null");
    }

    private async Task SendAsync(HttpMethod method, string relativeUri, HttpContent? body, CancellationToken ct)
    {
        using var call = CancellationTokenSource.CreateLinkedTokenSource(ct);
        call.CancelAfter(Timeout);
        using var response = await SendCoreAsync(method, relativeUri, body, call.Token);
    }

    private async Task<HttpResponseMessage> SendCoreAsync(HttpMethod method, string relativeUri, HttpContent? body, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, new Uri(baseUri, relativeUri))
        {
            Version = HttpVersion.Version20,
            Content = body,
        };
        if (credentials is not null)
            await credentials.ProcessHttpRequestAsync(request, ct);
        var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        if (response.IsSuccessStatusCode)
            return response;

        // The status and reason are all callers read; the body (a Status object) is read to its end,
        // so an answer cut off mid-body is a fault and not a status, and then dropped, so nothing
        // the API echoed back can travel on in an exception. A Status is a few hundred bytes: one
        // past MaxErrorBodyBytes is no answer of the API's, and is a fault, not read whole.
        using (response)
        {
            await using (var error = await response.Content.ReadAsStreamAsync(ct))
            {
                var buffer = new byte[16 * 1024];
                long read = 0;
                int chunk;
                while ((chunk = await error.ReadAsync(buffer, ct)) > 0)
                {
                    read += chunk;
                    if (read > MaxErrorBodyBytes)
                        throw new InvalidDataException($"{method} answered {(int)response.StatusCode} with an error body over {MaxErrorBodyBytes} bytes");
                }
            }
            throw new HttpOperationException($"{method} answered {(int)response.StatusCode}")
            {
                Response = new HttpResponseMessageWrapper(response, string.Empty),
            };
        }
    }

    /// <summary>The largest error body read: a Status object is a few hundred bytes.</summary>
    public const int MaxErrorBodyBytes = 64 * 1024;

    /// <summary>As the library's own client: the token (refreshed from its file in a Pod), else basic auth.</summary>
    private static ServiceClientCredentials? Credentials(KubernetesClientConfiguration config) => config switch
    {
        { TokenProvider: { } provider } => new TokenCredentials(provider),
        { AccessToken: { Length: > 0 } token } => new TokenCredentials(token),
        { Username: { Length: > 0 } user } => new BasicAuthenticationCredentials { UserName = user, Password = config.Password },
        _ => null,
    };

    /// <summary>
    /// A connection whose peer went away without closing it (a node lost, a NAT entry expired) is found
    /// as client-go finds it: HTTP/2 pings once a connection has been read-idle for PingDelay, closed
    /// when one is not answered within PingTimeout, watches included; on HTTP/1.1, TCP keep-alive
    /// probes from PingDelay on, PingTimeout apart.
    /// </summary>
    private static SocketsHttpHandler Network(KubernetesClientConfiguration config, ConnectionLiveness liveness)
    {
        var handler = new SocketsHttpHandler
        {
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.WithActiveRequests,
            KeepAlivePingDelay = liveness.PingDelay,
            KeepAlivePingTimeout = liveness.PingTimeout,
            ConnectCallback = (context, ct) => ConnectAsync(context.DnsEndPoint, liveness, ct),
        };
        if (config.SkipTlsVerify)
        {
            // Only a kubeconfig's own insecure-skip-tls-verify gets here (never in-cluster), as with kubectl.
#pragma warning disable CA5359
            handler.SslOptions.RemoteCertificateValidationCallback = (_, _, _, _) => true;
#pragma warning restore CA5359
        }
        else if (config.SslCaCerts is { Count: > 0 } authorities)
        {
            // The cluster's CA is the only trust anchor for the API server; the host name is checked as usual.
            var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
            policy.CustomTrustStore.AddRange(authorities);
            handler.SslOptions.CertificateChainPolicy = policy;
        }
        if (ClientCertificate(config) is { } certificate)
            handler.SslOptions.ClientCertificates = [certificate];
        return handler;
    }

    private static async ValueTask<Stream> ConnectAsync(DnsEndPoint endpoint, ConnectionLiveness liveness, CancellationToken ct)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, Seconds(liveness.PingDelay));
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval, Seconds(liveness.PingTimeout));
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveRetryCount, KeepAliveProbes);
            await socket.ConnectAsync(endpoint, ct);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        static int Seconds(TimeSpan span) => Math.Max(1, (int)Math.Ceiling(span.TotalSeconds));
    }

    // Unanswered keep-alive probes before the kernel gives a connection up: 30 s idle + 3 × 15 s.
    private const int KeepAliveProbes = 3;

    /// <summary>A kubeconfig's client certificate and key, inline (base64 PEM) or in files.</summary>
    private static X509Certificate2? ClientCertificate(KubernetesClientConfiguration config)
    {
        var certificate = Pem(config.ClientCertificateData, config.ClientCertificateFilePath);
        var key = Pem(config.ClientCertificateKeyData, config.ClientKeyFilePath);
        return certificate is null || key is null ? null : X509Certificate2.CreateFromPem(certificate, key);

        static string? Pem(string? data, string? path) =>
            !string.IsNullOrEmpty(data) ? Encoding.UTF8.GetString(Convert.FromBase64String(data))
            : !string.IsNullOrEmpty(path) ? File.ReadAllText(path)
            : null;
    }

    private static ByteArrayContent Body<T>(T value, JsonTypeInfo<T> info, MediaTypeHeaderValue? type = null)
    {
        var content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(value, info));
        content.Headers.ContentType = type ?? Json;
        return content;
    }

    // The informational version without the "+commit" the SDK appends.
    private static string Version() =>
        (typeof(KubernetesApi).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0")
            .Split('+')[0];

    // Go's names, as client-go writes them.
    private static string GoArch() => RuntimeInformation.OSArchitecture switch
    {
        Architecture.X64 => "amd64",
        Architecture.Arm64 => "arm64",
        var other => other.ToString().ToLowerInvariant(),
    };

    private const string Core = "api/v1";
    private const string Coordination = "apis/coordination.k8s.io/v1";

    /// <summary>
    /// <c>{group}/namespaces/{ns}/{resource}[/{name}[/{subresource}]]</c>. The namespace and the name
    /// must pass <see cref="KubernetesNames"/> (escaping alone would let <c>..</c> through), so no
    /// caller can put a name into a path that the API could not have issued.
    /// </summary>
    private static string Namespaced(string group, string? ns, string resource, string? name = null, string? subresource = null)
    {
        if (!KubernetesNames.IsDnsLabel(ns) || (name is not null && !KubernetesNames.IsDnsSubdomain(name)))
            throw new InvalidApiNameException();
        var path = $"{group}/namespaces/{ns}/{resource}";
        return name is null ? path : subresource is null ? $"{path}/{name}" : $"{path}/{name}/{subresource}";
    }

    private static string NamespacePath(string name) =>
        KubernetesNames.IsDnsLabel(name) ? $"{Core}/namespaces/{name}" : throw new InvalidApiNameException();

    private static string Query(string? labelSelector, int? limit, string? continueToken)
    {
        var query = new List<string>(3);
        if (labelSelector is not null)
            query.Add("labelSelector=" + Uri.EscapeDataString(labelSelector));
        if (limit is { } n)
            query.Add("limit=" + n.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (continueToken is not null)
            query.Add("continue=" + Uri.EscapeDataString(continueToken));
        return query.Count == 0 ? "" : "?" + string.Join('&', query);
    }
}

/// <summary>How the API client notices a connection that died without closing (see KubernetesApi's Network).</summary>
public sealed record ConnectionLiveness(TimeSpan PingDelay, TimeSpan PingTimeout)
{
    /// <summary>client-go's: a ping after 30 s without a frame, and 15 s for its answer.</summary>
    public static ConnectionLiveness ClientGo { get; } = new(TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(15));
}

/// <summary>Pods read page by page, outside any informer: the refresher's fresh look before it deletes a Secret.</summary>
public interface IPodLister
{
    /// <inheritdoc cref="KubernetesApi.ListPodsAsync"/>
    Task<PodViewList> ListPodsAsync(string? ns, string? labelSelector, int? limit, string? continueToken, CancellationToken ct);
}
