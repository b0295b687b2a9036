using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using Microsoft.AspNetCore.Http;

namespace QuayAdmission.Tests.Fakes;

public sealed partial class FakeKubernetesApi
{
    private readonly record struct Route(string Operation, string? Namespace, string? Name);

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var body = await ReadBodyAsync(request, context.RequestAborted);
        var route = Match(request.Method, request.Path.Value ?? "/");
        Record(request, route.Operation, body);

        if (TakeFault(route.Operation) is { } fault && await AnsweredByFaultAsync(context, fault))
        {
            return;
        }

        var result = !IsAuthorized(request, route.Operation)
            ? KubeStatus.Failure(401, "Unauthorized", "Unauthorized")
            : Dispatch(route, request, body);
        await result.ExecuteAsync(context);
    }

    /// <summary>Maps a path to a stable operation name, in the API's URL scheme:
    /// <c>/api/v1[/namespaces/{ns}]/{resource}[/{name}[/{subresource}]]</c> and <c>/apis/{group}/{version}/...</c>.</summary>
    private static Route Match(string method, string path)
    {
        if (method == "GET" && path == "/openid/v1/jwks")
        {
            return new Route("jwks", null, null);
        }

        if (method == "GET" && path == "/.well-known/openid-configuration")
        {
            return new Route("discovery", null, null);
        }

        var s = path.Trim('/').Split('/');
        (string GroupVersion, string[] Tail) split = s switch
        {
            ["api", "v1", _, ..] => ("v1", s[2..]),
            ["apis", var group, var version, _, ..] => ($"{group}/{version}", s[3..]),
            _ => ("", []),
        };
        (string? Namespace, string Resource, string? Name, string? Sub) parts = split.Tail switch
        {
            ["namespaces", var n, var r] => (n, r, null, null),
            ["namespaces", var n, var r, var x] => (n, r, x, null),
            ["namespaces", var n, var r, var x, var y] => (n, r, x, y),
            [var r] => (null, r, null, null),
            [var r, var x] => (null, r, x, null),
            _ => (null, "", null, null),
        };
        var (ns, resource, name, sub) = parts;

        var operation = (split.GroupVersion, resource, sub, method, Named: name is not null, Namespaced: ns is not null) switch
        {
            ("v1", "secrets", null, "GET", false, _) => "secrets.list",
            ("v1", "secrets", null, "POST", false, true) => "secrets.create",
            ("v1", "secrets", null, "GET", true, true) => "secrets.get",
            ("v1", "secrets", null, "PUT", true, true) => "secrets.update",
            ("v1", "secrets", null, "DELETE", true, true) => "secrets.delete",
            ("v1", "serviceaccounts", "token", "POST", true, true) => "tokenrequest",
            ("v1", "serviceaccounts", null, "GET", false, _) => "serviceaccounts.list",
            ("v1", "serviceaccounts", null, "GET", true, true) => "serviceaccounts.get",
            ("v1", "pods", null, "GET", false, _) => "pods.list",
            ("v1", "namespaces", null, "GET", false, false) => "namespaces.list",
            ("v1", "namespaces", null, "GET", true, false) => "namespaces.get",
            ("v1" or "events.k8s.io/v1", "events", null, "POST", false, true) => "events.create",
            ("v1" or "events.k8s.io/v1", "events", null, "PATCH", true, true) => "events.patch",
            ("coordination.k8s.io/v1", "leases", null, "GET", true, true) => "leases.get",
            ("coordination.k8s.io/v1", "leases", null, "POST", false, true) => "leases.create",
            ("coordination.k8s.io/v1", "leases", null, "PUT", true, true) => "leases.update",
            _ => "unknown",
        };
        return new Route(operation, ns, name);
    }

    private IResult Dispatch(Route route, HttpRequest request, string? body)
    {
        var (ns, name) = (route.Namespace, route.Name ?? "");
        var coreEvents = request.Path.StartsWithSegments("/api", StringComparison.Ordinal);
        return route.Operation switch
        {
            "jwks" => KubeStatus.Json(200, new JsonObject { ["keys"] = new JsonArray(FakeJwt.PublicJwk(_signingKey, KeyId)) }),
            "discovery" => Discovery(),
            "secrets.get" => Get(_secrets, ns, name),
            "secrets.list" => List(_secrets, ns, request.Query),
            "secrets.create" => Create(_secrets, ns, body),
            "secrets.update" => Replace(_secrets, ns, name, body),
            "secrets.delete" => Delete(_secrets, ns, name, body),
            "tokenrequest" => TokenRequest(ns!, name, body),
            "pods.list" => List(_pods, ns, request.Query),
            "serviceaccounts.get" => Get(_serviceAccounts, ns, name),
            "serviceaccounts.list" => List(_serviceAccounts, ns, request.Query),
            "namespaces.get" => Get(_namespaces, null, name),
            "namespaces.list" => List(_namespaces, null, request.Query),
            "events.create" when coreEvents => Create(_events, ns, body),
            "events.create" => Create(_eventsV1, ns, body),
            "events.patch" when coreEvents => Patch(_events, ns, name, request.ContentType, body),
            "events.patch" => Patch(_eventsV1, ns, name, request.ContentType, body),
            "leases.get" => Get(_leases, ns, name),
            "leases.create" => Create(_leases, ns, body),
            "leases.update" => Replace(_leases, ns, name, body),
            _ => KubeStatus.Failure(404, "NotFound", "the server could not find the requested resource"),
        };
    }

    // Anonymous access to the issuer's discovery documents is what clusters grant
    // (system:service-account-issuer-discovery); everything else needs the admin token.
    private static bool IsAuthorized(HttpRequest request, string operation) =>
        UncountedOperations.Contains(operation) || request.Headers.Authorization == $"Bearer {AdminToken}";

    private IResult Discovery() => KubeStatus.Json(200, new JsonObject
    {
        ["issuer"] = Issuer,
        ["jwks_uri"] = $"{Issuer}/openid/v1/jwks",
        ["response_types_supported"] = new JsonArray("id_token"),
        ["subject_types_supported"] = new JsonArray("public"),
        ["id_token_signing_alg_values_supported"] = new JsonArray("RS256"),
    });

    private IResult Get<T>(KubeObjectStore<T> store, string? ns, string name)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        var obj = Locked(() => store.Get(ns, name));
        return obj is null ? KubeStatus.NotFound(store.Resource, name) : Object(200, obj);
    }

    private IResult List<T>(KubeObjectStore<T> store, string? ns, IQueryCollection query)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        if (query["watch"] is ["true" or "1"])
        {
            return KubeStatus.BadRequest("watch is not served by the fake Kubernetes API");
        }

        if (!KubeSelectors.TryParseLabels(query["labelSelector"], out var labelsMatch, out var error)
            || !KubeSelectors.TryParseFields<T>(query["fieldSelector"], out var fieldsMatch, out error))
        {
            return KubeStatus.BadRequest(error);
        }

        var (items, version) = Locked(() => (store.List(ns), _resourceVersion.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        var list = new JsonObject
        {
            ["apiVersion"] = store.ApiVersion,
            ["kind"] = store.Kind + "List",
            ["metadata"] = new JsonObject { ["resourceVersion"] = version },
            ["items"] = new JsonArray([.. items
                .Where(i => labelsMatch(i.Metadata.Labels) && fieldsMatch(i))
                .Select(i => JsonNode.Parse(KubernetesJson.Serialize(i)))]),
        };
        return KubeStatus.Json(200, list);
    }

    private IResult Create<T>(KubeObjectStore<T> store, string? ns, string? body)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        if (!TryDeserialize<T>(body, out var obj, out var problem))
        {
            return problem;
        }

        var meta = obj.Metadata ??= new V1ObjectMeta();
        if (meta.NamespaceProperty is { Length: > 0 } bodyNs && bodyNs != ns)
        {
            return KubeStatus.BadRequest("the namespace of the provided object does not match the namespace sent on the request");
        }

        if (string.IsNullOrEmpty(meta.Name) && !string.IsNullOrEmpty(meta.GenerateName))
        {
            meta.Name = meta.GenerateName + RandomSuffix();
        }

        if (string.IsNullOrEmpty(meta.Name))
        {
            return KubeStatus.Invalid(store.Kind, "", "metadata.name", "Required value: name or generateName is required");
        }

        if (Validate(obj, current: null) is { } invalid)
        {
            return invalid;
        }

        lock (_gate)
        {
            if (store.Get(ns, meta.Name) is not null)
            {
                return KubeStatus.AlreadyExists(store.Resource, meta.Name);
            }

            meta.NamespaceProperty = ns;
            meta.Uid = Guid.NewGuid().ToString();
            meta.CreationTimestamp = Now();
            meta.ResourceVersion = NextResourceVersion();
            store.Put(obj);
        }

        return Object(201, obj);
    }

    /// <summary>PUT: optimistic concurrency on resourceVersion when the body carries one, as the real API does.</summary>
    private IResult Replace<T>(KubeObjectStore<T> store, string? ns, string name, string? body)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        if (!TryDeserialize<T>(body, out var obj, out var problem))
        {
            return problem;
        }

        var meta = obj.Metadata ??= new V1ObjectMeta();
        if (!string.IsNullOrEmpty(meta.Name) && meta.Name != name)
        {
            return KubeStatus.BadRequest($"the name of the object ({meta.Name}) does not match the name on the URL ({name})");
        }

        lock (_gate)
        {
            var current = store.Get(ns, name);
            if (current is null)
            {
                return KubeStatus.NotFound(store.Resource, name);
            }

            if (!string.IsNullOrEmpty(meta.ResourceVersion) && meta.ResourceVersion != current.Metadata.ResourceVersion)
            {
                return KubeStatus.Conflict(store.Resource, name);
            }

            if (Validate(obj, current) is { } invalid)
            {
                return invalid;
            }

            meta.Name = name;
            meta.NamespaceProperty = ns;
            meta.Uid = current.Metadata.Uid;
            meta.CreationTimestamp = current.Metadata.CreationTimestamp;
            meta.ResourceVersion = NextResourceVersion();
            store.Put(obj);
        }

        return Object(200, obj);
    }

    /// <summary>DELETE, honouring DeleteOptions.preconditions (uid, resourceVersion) like the real API.</summary>
    private IResult Delete<T>(KubeObjectStore<T> store, string? ns, string name, string? body)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        V1Preconditions? preconditions = null;
        if (!string.IsNullOrWhiteSpace(body))
        {
            if (!TryDeserialize<V1DeleteOptions>(body, out var options, out var problem))
            {
                return problem;
            }

            preconditions = options.Preconditions;
        }

        lock (_gate)
        {
            var current = store.Get(ns, name);
            if (current is null)
            {
                return KubeStatus.NotFound(store.Resource, name);
            }

            if (preconditions?.Uid is { } uid && uid != current.Metadata.Uid)
            {
                return KubeStatus.Conflict(store.Resource, name, $"Precondition failed: UID in precondition: {uid}, UID in object meta: {current.Metadata.Uid}");
            }

            if (preconditions?.ResourceVersion is { } rv && rv != current.Metadata.ResourceVersion)
            {
                return KubeStatus.Conflict(store.Resource, name, $"Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {current.Metadata.ResourceVersion}");
            }

            store.Remove(ns, name);
            NextResourceVersion();
            return KubeStatus.Success(store.Resource, name, current.Metadata.Uid);
        }
    }

    /// <summary>Merge patch, and strategic merge patch treated as one: for the scalar fields
    /// event recorders patch (count, lastTimestamp, series) the two are the same.</summary>
    private IResult Patch<T>(KubeObjectStore<T> store, string? ns, string name, string? contentType, string? body)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        var mediaType = contentType?.Split(';')[0].Trim();
        if (mediaType is not ("application/merge-patch+json" or "application/strategic-merge-patch+json"))
        {
            return KubeStatus.Failure(415, "UnsupportedMediaType", $"the body of the request was in an unknown format - accepted media types include: application/merge-patch+json, application/strategic-merge-patch+json (got {mediaType})");
        }

        JsonNode? patch;
        try
        {
            patch = JsonNode.Parse(body ?? "");
        }
        catch (JsonException e)
        {
            return KubeStatus.BadRequest($"error decoding patch: {e.Message}");
        }

        lock (_gate)
        {
            var current = store.Get(ns, name);
            if (current is null)
            {
                return KubeStatus.NotFound(store.Resource, name);
            }

            var merged = MergePatch(JsonNode.Parse(KubernetesJson.Serialize(current)), patch);
            if (!TryDeserialize<T>(merged?.ToJsonString(), out var obj, out var problem))
            {
                return problem;
            }

            obj.Metadata ??= new V1ObjectMeta();
            obj.Metadata.Name = name;
            obj.Metadata.NamespaceProperty = ns;
            obj.Metadata.Uid = current.Metadata.Uid;
            obj.Metadata.CreationTimestamp = current.Metadata.CreationTimestamp;
            obj.Metadata.ResourceVersion = NextResourceVersion();
            store.Put(obj);
            return Object(200, obj);
        }
    }

    private IResult TokenRequest(string ns, string serviceAccount, string? body)
    {
        if (!TryDeserialize<Authenticationv1TokenRequest>(body, out var request, out var problem))
        {
            return problem;
        }

        var spec = request.Spec ?? new V1TokenRequestSpec();
        var seconds = spec.ExpirationSeconds ?? 3600;
        if (seconds < 600)
        {
            return KubeStatus.Invalid("TokenRequest", serviceAccount, "spec.expirationSeconds", $"Invalid value: {seconds}: may not specify a duration less than 10 minutes");
        }

        if (seconds > 1L << 32)
        {
            return KubeStatus.Invalid("TokenRequest", serviceAccount, "spec.expirationSeconds", $"Invalid value: {seconds}: may not specify a duration larger than 2^32 seconds");
        }

        var account = Locked(() => _serviceAccounts.Get(ns, serviceAccount));
        if (account is null && RequireServiceAccounts)
        {
            return KubeStatus.NotFound("serviceaccounts", serviceAccount);
        }

        var uid = account?.Metadata.Uid ?? StableUid(ns, serviceAccount);
        var audiences = spec.Audiences is { Count: > 0 } a ? a.ToList() : [DefaultAudience];
        var now = _time.GetUtcNow();
        var expires = now.AddSeconds(seconds);
        var claims = new JsonObject
        {
            ["aud"] = new JsonArray([.. audiences.Select(x => JsonValue.Create(x))]),
            ["exp"] = expires.ToUnixTimeSeconds(),
            ["iat"] = now.ToUnixTimeSeconds(),
            ["iss"] = Issuer,
            ["jti"] = Guid.NewGuid().ToString(),
            ["kubernetes.io"] = new JsonObject
            {
                ["namespace"] = ns,
                ["serviceaccount"] = new JsonObject { ["name"] = serviceAccount, ["uid"] = uid },
            },
            ["nbf"] = now.ToUnixTimeSeconds(),
            ["sub"] = $"system:serviceaccount:{ns}:{serviceAccount}",
        };

        request.ApiVersion = "authentication.k8s.io/v1";
        request.Kind = "TokenRequest";
        request.Metadata = new V1ObjectMeta { Name = serviceAccount, NamespaceProperty = ns };
        request.Spec = spec;
        spec.Audiences = audiences;
        spec.ExpirationSeconds = seconds;
        request.Status = new V1TokenRequestStatus { Token = FakeJwt.SignRs256(_signingKey, KeyId, claims), ExpirationTimestamp = expires.UtcDateTime };
        return Object(201, request);
    }

    /// <summary>Answers per the fault, or returns false when the request should go on normally.</summary>
    private async Task<bool> AnsweredByFaultAsync(HttpContext context, Fault fault)
    {
        switch (fault.Kind)
        {
            case FaultKind.Status:
                if (fault.Code == 429)
                {
                    context.Response.Headers.RetryAfter = "1";
                }

                await KubeStatus.Failure(fault.Code, fault.Reason, $"fault injected by the test: {fault.Code}").ExecuteAsync(context);
                return true;
            case FaultKind.Delay when await Server.WaitAsync(fault.Duration, context.RequestAborted):
                return false;
            case FaultKind.Hang:
                await Server.WaitAsync(Timeout.InfiniteTimeSpan, context.RequestAborted);
                context.Abort();
                return true;
            default: // Reset, or a delay cut short by the client or the server stopping
                context.Abort();
                return true;
        }
    }

    /// <summary>
    /// What the API server does to a Secret on write: folds stringData into data, defaults the type,
    /// keeps the type immutable and requires a JSON <c>.dockerconfigjson</c> for that type, so a
    /// Secret the real API would refuse is refused here too.
    /// </summary>
    private static IResult? Validate<T>(T obj, T? current)
    {
        if (obj is not V1Secret secret)
        {
            return null;
        }

        secret.Data ??= new Dictionary<string, byte[]>();
        foreach (var (key, value) in secret.StringData ?? new Dictionary<string, string>())
        {
            secret.Data[key] = Encoding.UTF8.GetBytes(value);
        }

        secret.StringData = null;
        secret.Type = string.IsNullOrEmpty(secret.Type) ? "Opaque" : secret.Type;
        var name = secret.Metadata.Name ?? "";
        if (current is V1Secret old && old.Type != secret.Type)
        {
            return KubeStatus.Invalid("Secret", name, "type", $"Invalid value: \"{secret.Type}\": field is immutable");
        }

        if (secret.Type == "kubernetes.io/dockerconfigjson")
        {
            if (!secret.Data.TryGetValue(".dockerconfigjson", out var config))
            {
                return KubeStatus.Invalid("Secret", name, "data[.dockerconfigjson]", "Required value");
            }

            try
            {
                using var _ = JsonDocument.Parse(config);
            }
            catch (JsonException e)
            {
                return KubeStatus.Invalid("Secret", name, "data[.dockerconfigjson]", $"Invalid value: \"<secret contents redacted>\": {e.Message}");
            }
        }

        return null;
    }

    /// <summary>RFC 7386 JSON merge patch.</summary>
    private static JsonNode? MergePatch(JsonNode? target, JsonNode? patch)
    {
        if (patch is not JsonObject patchObject)
        {
            return patch?.DeepClone();
        }

        var result = target as JsonObject ?? [];
        foreach (var (key, value) in patchObject)
        {
            if (value is null)
            {
                result.Remove(key);
            }
            else
            {
                var merged = MergePatch(result[key], value);
                if (!ReferenceEquals(merged, result[key]))
                {
                    result[key] = merged;
                }
            }
        }

        return result;
    }

    private static bool TryDeserialize<T>(string? body, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out T? value, out IResult problem)
        where T : class
    {
        value = null;
        problem = KubeStatus.BadRequest("the request body is empty");
        if (string.IsNullOrWhiteSpace(body))
        {
            return false;
        }

        try
        {
            value = KubernetesJson.Deserialize<T>(body);
        }
        catch (JsonException e)
        {
            problem = KubeStatus.BadRequest($"error decoding the request body: {e.Message}");
        }

        return value is not null;
    }

    private static IResult Object(int code, object obj) =>
        Results.Content(KubernetesJson.Serialize(obj), "application/json", statusCode: code);

    private static async Task<string?> ReadBodyAsync(HttpRequest request, CancellationToken ct)
    {
        using var reader = new StreamReader(request.Body, Encoding.UTF8);
        var body = await reader.ReadToEndAsync(ct);
        return body.Length == 0 ? null : body;
    }

    // The uid of a ServiceAccount nobody registered: stable, so repeated tokens agree.
    private static string StableUid(string ns, string serviceAccount) =>
        new Guid(SHA256.HashData(Encoding.UTF8.GetBytes($"{ns}/{serviceAccount}"))[..16]).ToString();

    // generateName's suffix: five characters from the API server's alphabet (no vowels, no look-alikes).
    private static string RandomSuffix() => RandomNumberGenerator.GetString("bcdfghjklmnpqrstvwxz2456789", 5);
}
