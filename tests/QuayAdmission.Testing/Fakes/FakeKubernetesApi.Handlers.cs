using System.Buffers.Text;
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
    private enum Verb
    {
        Get,
        List,
        Watch,
        Create,
        Update,
        Delete,
        Patch,
    }

    /// <summary>
    /// What is served, by (group/version, resource) as they appear in URLs and verb: the calls the
    /// webhook makes (src/QuayAdmission/Kubernetes/KubernetesApi.cs and its informers), events.k8s.io/v1
    /// Events beside the core ones, and nothing else. Another call is 404, as an unserved resource is.
    /// </summary>
    private static readonly HashSet<(string GroupVersion, string Resource, Verb Verb)> Served =
    [
        ("v1", "secrets", Verb.Get),
        ("v1", "secrets", Verb.List),
        ("v1", "secrets", Verb.Watch),
        ("v1", "secrets", Verb.Create),
        ("v1", "secrets", Verb.Patch),
        ("v1", "secrets", Verb.Delete),
        ("v1", "pods", Verb.List),
        ("v1", "pods", Verb.Watch),
        ("v1", "serviceaccounts", Verb.Get),
        ("v1", "namespaces", Verb.Get),
        ("v1", "events", Verb.Create),
        ("events.k8s.io/v1", "events", Verb.Create),
        ("coordination.k8s.io/v1", "leases", Verb.Get),
        ("coordination.k8s.io/v1", "leases", Verb.Create),
        ("coordination.k8s.io/v1", "leases", Verb.Update),
    ];

    private const string ContinueTooOld = "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.";

    private readonly record struct Route(string Operation, string GroupVersion, string Resource, Verb Verb, string? Namespace, string? Name);

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var body = await ReadBodyAsync(request, context.RequestAborted);
        var route = Match(request.Method, request.Path.Value ?? "/", request.Query);
        var traffic = Record(request, route.Operation, body);
        context.Response.Body = new CountingStream(context.Response.Body, traffic.CountBytes);

        var truncate = false;
        if (TakeFault(route.Operation) is { } fault)
        {
            truncate = fault.Kind == FaultKind.ResetMidBody;
            if (!truncate && await AnsweredByFaultAsync(context, fault))
            {
                return;
            }
        }

        if (!IsAuthorized(request, route.Operation))
        {
            await ReplyAsync(context, KubeStatus.Failure(401, "Unauthorized", "Unauthorized"), truncate);
            return;
        }

        var serving = (route.Operation, route.GroupVersion, route.Resource) switch
        {
            ("jwks", _, _) => ReplyAsync(context, KubeStatus.Json(200, new JsonObject { ["keys"] = new JsonArray(FakeJwt.PublicJwk(_signingKey, KeyId)) }), truncate),
            ("discovery", _, _) => ReplyAsync(context, Discovery(), truncate),
            ("tokenrequest", _, _) => ReplyAsync(context, TokenRequest(route.Namespace!, route.Name!, body), truncate),
            (_, "v1", "secrets") => ServeAsync(_secrets, context, route, body, truncate),
            (_, "v1", "pods") => ServeAsync(_pods, context, route, body, truncate),
            (_, "v1", "serviceaccounts") => ServeAsync(_serviceAccounts, context, route, body, truncate),
            (_, "v1", "namespaces") => ServeAsync(_namespaces, context, route, body, truncate),
            (_, "v1", "events") => ServeAsync(_events, context, route, body, truncate),
            (_, "events.k8s.io/v1", "events") => ServeAsync(_eventsV1, context, route, body, truncate),
            (_, "coordination.k8s.io/v1", "leases") => ServeAsync(_leases, context, route, body, truncate),
            _ => ReplyAsync(context, KubeStatus.Failure(404, "NotFound", "the server could not find the requested resource"), truncate),
        };
        await serving;
    }

    /// <summary>Maps a request to a stable operation name, <c>resource.verb</c>, in the API's URL scheme:
    /// <c>/api/v1[/namespaces/{ns}]/{resource}[/{name}[/{subresource}]]</c> and <c>/apis/{group}/{version}/...</c>.
    /// A GET of a collection with <c>watch=true</c> is the verb <c>watch</c>.</summary>
    private static Route Match(string method, string path, IQueryCollection query)
    {
        var unknown = new Route("unknown", "", "", Verb.Get, null, null);
        if (method == "GET" && path == "/openid/v1/jwks")
        {
            return unknown with { Operation = "jwks" };
        }

        if (method == "GET" && path == "/.well-known/openid-configuration")
        {
            return unknown with { Operation = "discovery" };
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
        var gv = split.GroupVersion;

        if ((gv, resource, sub, method) == ("v1", "serviceaccounts", "token", "POST") && ns is not null && name is not null)
        {
            return new Route("tokenrequest", gv, resource, Verb.Create, ns, name);
        }

        Verb? verb = (method, name is not null) switch
        {
            ("GET", true) => Verb.Get,
            ("GET", false) => IsTrue(query["watch"]) ? Verb.Watch : Verb.List,
            ("POST", false) => Verb.Create,
            ("PUT", true) => Verb.Update,
            ("DELETE", true) => Verb.Delete,
            ("PATCH", true) => Verb.Patch,
            _ => null,
        };

        // Namespaced resources are named and created inside a namespace; namespaces themselves never are.
        var clusterScoped = resource == "namespaces";
        var scopeFits = clusterScoped ? ns is null : ns is not null || verb is Verb.List or Verb.Watch;
        return verb is { } v && sub is null && scopeFits && Served.Contains((gv, resource, v))
            ? new Route($"{resource}.{v.ToString().ToLowerInvariant()}", gv, resource, v, ns, name)
            : unknown;
    }

    private async Task ServeAsync<T>(KubeObjectStore<T> store, HttpContext context, Route route, string? body, bool truncate)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        var (ns, name, query) = (route.Namespace, route.Name ?? "", context.Request.Query);
        var manager = ManagedFields.ManagerOf(context.Request);
        if (route.Verb == Verb.Watch)
        {
            await WatchAsync(store, context, route.Operation, ns, truncate);
            return;
        }

        var reply = route.Verb switch
        {
            Verb.Get => Get(store, ns, name),
            Verb.List => List(store, ns, query),
            Verb.Create => Create(store, ns, body, manager),
            Verb.Update => Replace(store, ns, name, body, manager),
            Verb.Delete => Delete(store, ns, name, body),
            _ => Patch(store, ns, name, context.Request.ContentType, body, manager),
        };
        await ReplyAsync(context, reply, truncate);
    }

    private static Task ReplyAsync(HttpContext context, KubeReply reply, bool truncate) =>
        truncate ? reply.ExecuteTruncatedAsync(context) : reply.ExecuteAsync(context);

    // Anonymous access to the issuer's discovery documents is what clusters grant
    // (system:service-account-issuer-discovery); everything else needs the admin token.
    private static bool IsAuthorized(HttpRequest request, string operation) =>
        UncountedOperations.Contains(operation) || request.Headers.Authorization == $"Bearer {AdminToken}";

    // Go's strconv.ParseBool, which the API server uses for query flags.
    private static bool IsTrue(Microsoft.Extensions.Primitives.StringValues value) => value is ["1" or "t" or "T" or "true" or "TRUE" or "True"];

    private KubeReply Discovery() => KubeStatus.Json(200, new JsonObject
    {
        ["issuer"] = Issuer,
        ["jwks_uri"] = $"{Issuer}/openid/v1/jwks",
        ["response_types_supported"] = new JsonArray("id_token"),
        ["subject_types_supported"] = new JsonArray("public"),
        ["id_token_signing_alg_values_supported"] = new JsonArray("RS256"),
    });

    private KubeReply Get<T>(KubeObjectStore<T> store, string? ns, string name)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        var stored = Locked(() => store.Find(ns, name));
        return stored is null ? KubeStatus.NotFound(store.Resource, name) : KubeReply.Json(200, store.WithType(stored.Json));
    }

    /// <summary>
    /// A list as the API server serves it: at the latest resourceVersion unless asked otherwise, in key
    /// order, in pages of <c>limit</c> over one consistent snapshot that the <c>continue</c> token names.
    /// </summary>
    private KubeReply List<T>(KubeObjectStore<T> store, string? ns, IQueryCollection query)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        if (ParseSelectors(query, out var labels) is { } badSelector)
        {
            return badSelector;
        }

        long limit = 0;
        if (query["limit"] is [var limitText] && (!long.TryParse(limitText, out limit) || limit < 0))
        {
            return KubeStatus.BadRequest($"invalid limit: {limitText}");
        }

        var prefix = store.PrefixOf(ns);
        var start = prefix;
        Snapshot snapshot;
        long version;
        lock (_gate)
        {
            if (query["continue"] is [{ Length: > 0 } token])
            {
                if (query["resourceVersion"] is [{ Length: > 0 } and not "0"])
                {
                    return KubeStatus.BadRequest("specifying resource version is not allowed when using continue");
                }

                if (!ContinueToken.TryDecode(token, out var tokenVersion, out var tokenKey, out var why))
                {
                    return KubeStatus.BadRequest($"invalid continue token: {why}");
                }

                // The webhook lists again from the start after this 410 (the real API's Status also
                // carries an inconsistent continue token, which it does not use: not served here).
                version = tokenVersion;
                start = string.CompareOrdinal(tokenKey, prefix) > 0 ? tokenKey : prefix;
                if (store.SnapshotAt(version) is not { } continued)
                {
                    return KubeStatus.Expired(ContinueTooOld);
                }

                snapshot = continued;
            }
            else
            {
                (version, var problem) = ListVersion(query);
                if (problem is not null)
                {
                    return problem;
                }

                // The latest state, always at hand.
                snapshot = store.SnapshotAt(version)!;
            }
        }

        // The snapshot is immutable: the page is read without the lock.
        var index = snapshot.IndexOf(start);
        var end = prefix.Length == 0 ? snapshot.Items.Length : snapshot.IndexOf(prefix[..^1] + "0"); // '0' sorts right after '/'
        var page = new List<StoredObject>();
        while (index < end && (limit == 0 || page.Count < limit))
        {
            var item = snapshot.Items[index++];
            if (labels.Matches(item.Labels))
            {
                page.Add(item);
            }
        }

        var metadata = new JsonObject { ["resourceVersion"] = Format(version) };
        if (index < end && page.Count > 0)
        {
            metadata["continue"] = ContinueToken.Encode(version, page[^1].Key + "\0");

            // Unknown, so left out, when a selector filters: the real API counts keys, not matches.
            if (labels.IsEverything)
            {
                metadata["remainingItemCount"] = end - index;
            }
        }

        var head = $"{{\"kind\":\"{store.Kind}List\",\"apiVersion\":\"{store.ApiVersion}\",\"metadata\":{KubeStatus.Serialize(metadata)},\"items\":[";
        var parts = new List<ReadOnlyMemory<byte>>(page.Count * 2 + 2) { Encoding.UTF8.GetBytes(head) };
        for (var i = 0; i < page.Count; i++)
        {
            if (i > 0)
            {
                parts.Add(Comma);
            }

            parts.Add(page[i].Json);
        }

        parts.Add("]}"u8.ToArray());
        return new KubeReply(200, parts);
    }

    private static readonly byte[] Comma = ","u8.ToArray();

    /// <summary>
    /// Which resourceVersion a list without <c>continue</c> reads at: the latest state, whether
    /// resourceVersion is unset, "0" (any) or a version (not older than it); one newer than the
    /// current is 504, as the real API answers after its wait. Callers hold _gate.
    /// </summary>
    private (long Version, KubeReply? Problem) ListVersion(IQueryCollection query)
    {
        var text = query["resourceVersion"].ToString();
        if (text.Length > 0 && (!long.TryParse(text, out _) || text.StartsWith('-')))
        {
            return (0, KubeStatus.BadRequest($"invalid resource version: \"{text}\""));
        }

        var requested = text.Length == 0 ? 0 : long.Parse(text, System.Globalization.CultureInfo.InvariantCulture);
        return requested > _resourceVersion
            ? (0, KubeStatus.TooLargeResourceVersion(requested, _resourceVersion))
            : (_resourceVersion, null);
    }

    /// <summary>The label selector; a field selector or resourceVersionMatch (which the webhook never sends) is refused, not ignored.</summary>
    private static KubeReply? ParseSelectors(IQueryCollection query, out LabelSelector labels)
    {
        labels = LabelSelector.Everything;
        foreach (var unserved in (string[])["fieldSelector", "resourceVersionMatch", "sendInitialEvents"])
        {
            if (query[unserved].Count > 0)
            {
                return KubeStatus.BadRequest($"{unserved} is not served by this stand-in");
            }
        }

        return LabelSelector.TryParse(query["labelSelector"], out labels, out var error) ? null : KubeStatus.BadRequest(error);
    }

    private KubeReply Create<T>(KubeObjectStore<T> store, string? ns, string? body, string manager)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        if (!TryDeserialize<T>(body, out var obj, out var problem))
        {
            return problem;
        }

        var meta = obj.Metadata ??= new V1ObjectMeta();
        if (store.Namespaced && meta.NamespaceProperty is { Length: > 0 } bodyNs && bodyNs != ns)
        {
            return KubeStatus.BadRequest("the namespace of the provided object does not match the namespace sent on the request");
        }

        // The webhook names what it creates (no generateName here).
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
            if (store.Find(ns, meta.Name) is not null)
            {
                return KubeStatus.AlreadyExists(store.Resource, meta.Name);
            }

            meta.NamespaceProperty = ns;
            meta.Uid = Guid.NewGuid().ToString();
            meta.CreationTimestamp = Now();
            meta.DeletionTimestamp = null;
            Defaults(obj);
            ManagedFields.Stamp(obj, kept: null, manager, store.ApiVersion, JsonNode.Parse(body!), Now());
            return KubeReply.Json(201, store.WithType(store.Put(obj, ++_resourceVersion).Current!.Json));
        }
    }

    /// <summary>PUT: optimistic concurrency on resourceVersion when the body carries one, and no write
    /// (same resourceVersion, no watch event) when nothing changes, as the real API does.</summary>
    private KubeReply Replace<T>(KubeObjectStore<T> store, string? ns, string name, string? body, string manager)
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
            var stored = store.Find(ns, name);
            if (stored is null)
            {
                return KubeStatus.NotFound(store.Resource, name);
            }

            var current = store.Typed(stored);
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
            meta.DeletionTimestamp = current.Metadata.DeletionTimestamp;
            meta.DeletionGracePeriodSeconds = current.Metadata.DeletionGracePeriodSeconds;
            return Write(store, stored, current, obj, manager, body);
        }
    }

    /// <summary>DELETE (of a Secret), honouring DeleteOptions.preconditions (uid, resourceVersion); answers a Status, as the real API does.</summary>
    private KubeReply Delete<T>(KubeObjectStore<T> store, string? ns, string name, string? body)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        if (ParseDeleteOptions(body, out var options) is { } bad)
        {
            return bad;
        }

        lock (_gate)
        {
            var stored = store.Find(ns, name);
            if (stored is null)
            {
                return KubeStatus.NotFound(store.Resource, name);
            }

            var current = store.Typed(stored);
            if (FailedPrecondition(store.Resource, current.Metadata, options.Preconditions) is { } failed)
            {
                return failed;
            }

            store.Remove(ns, name, ++_resourceVersion);
            return KubeStatus.Success(store.Resource, name, current.Metadata.Uid);
        }
    }

    private static KubeReply? ParseDeleteOptions(string? body, out V1DeleteOptions options)
    {
        options = new V1DeleteOptions();
        if (string.IsNullOrWhiteSpace(body))
        {
            return null;
        }

        if (!TryDeserialize<V1DeleteOptions>(body, out var parsed, out var problem))
        {
            return problem;
        }

        options = parsed;
        return null;
    }

    private static KubeReply? FailedPrecondition(string resource, V1ObjectMeta current, V1Preconditions? preconditions)
    {
        if (preconditions?.Uid is { } uid && uid != current.Uid)
        {
            return KubeStatus.Conflict(resource, current.Name, $"Precondition failed: UID in precondition: {uid}, UID in object meta: {current.Uid}");
        }

        if (preconditions?.ResourceVersion is { } rv && rv != current.ResourceVersion)
        {
            return KubeStatus.Conflict(resource, current.Name, $"Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {current.ResourceVersion}");
        }

        return null;
    }

    /// <summary>JSON merge patch, as the webhook patches its Secrets.</summary>
    private KubeReply Patch<T>(KubeObjectStore<T> store, string? ns, string name, string? contentType, string? body, string manager)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        var mediaType = contentType?.Split(';')[0].Trim();
        if (mediaType != "application/merge-patch+json")
        {
            return KubeStatus.Failure(415, "UnsupportedMediaType", $"the body of the request was in an unknown format - this stand-in accepts application/merge-patch+json (got {mediaType})");
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
            var stored = store.Find(ns, name);
            if (stored is null)
            {
                return KubeStatus.NotFound(store.Resource, name);
            }

            var current = store.Typed(stored);
            // A resourceVersion in the patch is a precondition, as for an update.
            if (patch?["metadata"]?["resourceVersion"]?.GetValue<string>() is { Length: > 0 } expected && expected != current.Metadata.ResourceVersion)
            {
                return KubeStatus.Conflict(store.Resource, name);
            }

            var merged = MergePatch(JsonNode.Parse(stored.Json), patch);
            if (!TryDeserialize<T>(merged?.ToJsonString(), out var obj, out var problem))
            {
                return problem;
            }

            obj.Metadata ??= new V1ObjectMeta();
            obj.Metadata.Name = name;
            obj.Metadata.NamespaceProperty = ns;
            obj.Metadata.Uid = current.Metadata.Uid;
            obj.Metadata.CreationTimestamp = current.Metadata.CreationTimestamp;
            if (Validate(obj, current) is { } invalid)
            {
                return invalid;
            }

            return Write(store, stored, current, obj, manager, body);
        }
    }

    /// <summary>
    /// An update's write, under _gate: none when nothing but managedFields would change (same
    /// resourceVersion, no watch event, as the real API), else the writer's managedFields entry is renewed.
    /// </summary>
    private KubeReply Write<T>(KubeObjectStore<T> store, StoredObject stored, T current, T obj, string manager, string? body)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        obj.Metadata.ManagedFields = current.Metadata.ManagedFields;
        if (KubeObjectStore<T>.Unchanged(obj, stored))
        {
            return KubeReply.Json(200, store.WithType(stored.Json));
        }

        ManagedFields.Stamp(obj, current.Metadata.ManagedFields, manager, store.ApiVersion, JsonNode.Parse(body!), Now());
        return KubeReply.Json(200, store.WithType(store.Put(obj, ++_resourceVersion).Current!.Json));
    }

    /// <summary>
    /// TokenRequest as the API server validates and defaults it: audiences default to the API server's
    /// own, expirationSeconds to one hour, and less than ten minutes is Invalid (422).
    /// </summary>
    private KubeReply TokenRequest(string ns, string serviceAccount, string? body)
    {
        if (!TryDeserialize<Authenticationv1TokenRequest>(body, out var request, out var problem))
        {
            return problem;
        }

        var spec = request.Spec ?? new V1TokenRequestSpec();
        var seconds = spec.ExpirationSeconds ?? 3600;
        if (seconds < 600)
        {
            return KubeStatus.Invalid("TokenRequest.authentication.k8s.io", "", "spec.expirationSeconds", $"Invalid value: {seconds}: may not specify a duration less than 10 minutes");
        }

        if (seconds > 1L << 32)
        {
            return KubeStatus.Invalid("TokenRequest.authentication.k8s.io", "", "spec.expirationSeconds", $"Invalid value: {seconds}: may not specify a duration larger than 2^32 seconds");
        }

        // The real API needs the ServiceAccount; here one nobody added gets a stable uid, so tests need not add each.
        var account = Locked(() => _serviceAccounts.Get(ns, serviceAccount));
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
        return KubeReply.Json(201, KubernetesJson.Serialize(request));
    }

    /// <summary>Answers per the fault, or returns false when the request should go on normally.</summary>
    private static async Task<bool> AnsweredByFaultAsync(HttpContext context, Fault fault)
    {
        switch (fault.Kind)
        {
            case FaultKind.Status:
                var status = KubeStatus.Failure(fault.Code, fault.Reason, $"fault injected by the test: {fault.Code}");
                await (fault.Code == 429 ? status.WithRetryAfter("1") : status).ExecuteAsync(context);
                return true;
            case FaultKind.Delay when await LoopbackServer.WaitAsync(context, fault.Duration):
                return false;
            case FaultKind.Hang:
                await LoopbackServer.WaitAsync(context, Timeout.InfiniteTimeSpan);
                context.Abort();
                return true;
            case FaultKind.EndAtOnce:
                context.Response.StatusCode = 200;
                context.Response.ContentType = "application/json";
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
    private static KubeReply? Validate<T>(T obj, T? current)
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

    private static bool TryDeserialize<T>(string? body, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out T? value, out KubeReply problem)
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

    private static async Task<string?> ReadBodyAsync(HttpRequest request, CancellationToken ct)
    {
        using var reader = new StreamReader(request.Body, Encoding.UTF8);
        var body = await reader.ReadToEndAsync(ct);
        return body.Length == 0 ? null : body;
    }

    // The uid of a ServiceAccount nobody registered: stable, so repeated tokens agree.
    private static string StableUid(string ns, string serviceAccount) =>
        new Guid(SHA256.HashData(Encoding.UTF8.GetBytes($"{ns}/{serviceAccount}"))[..16]).ToString();

    /// <summary>The API server's continue token: base64url of <c>{"v":"meta.k8s.io/v1","rv":N,"start":"key\0"}</c>.</summary>
    private static class ContinueToken
    {
        public static string Encode(long version, string start) =>
            Base64Url.EncodeToString(Encoding.UTF8.GetBytes(new JsonObject { ["v"] = "meta.k8s.io/v1", ["rv"] = version, ["start"] = start }.ToJsonString()));

        public static bool TryDecode(string token, out long version, out string start, out string why)
        {
            (version, start, why) = (0, "", "");
            try
            {
                var json = JsonNode.Parse(Base64Url.DecodeFromChars(token));
                if (json?["v"]?.GetValue<string>() != "meta.k8s.io/v1")
                {
                    why = "continue key is not supported by this version";
                    return false;
                }

                version = json["rv"]?.GetValue<long>() ?? 0;
                start = json["start"]?.GetValue<string>() ?? "";
                why = version == 0 ? "0 continue resource version is not allowed when using continue" : "";
                return version != 0 && start.Length > 0;
            }
            catch (Exception e) when (e is FormatException or JsonException or InvalidOperationException)
            {
                why = e.Message;
                return false;
            }
        }
    }
}
