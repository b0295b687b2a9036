using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using QuayAdmission.PullSecrets;
using QuayAdmission.Quay;
using QuayAdmission.Tests.Fakes;

namespace QuayAdmission.LoadBench;

/// <summary>How big the cluster of the refresher scale scenario is.</summary>
internal sealed record ScaleShape(int Namespaces, int SecretsPerNamespace, int InjectedPodsPerSecret, int OtherPodsPerNamespace)
{
    public int Secrets => Namespaces * SecretsPerNamespace;

    public int InjectedPods => Secrets * InjectedPodsPerSecret;

    public int OtherPods => Namespaces * OtherPodsPerNamespace;
}

/// <summary>
/// The objects of the refresher scale scenario, seeded into the Kubernetes API stand-in: per
/// namespace, one ServiceAccount per managed Secret, each Secret a real managed Secret with a token
/// valid for an hour (so a steady state has nothing to renew), Pods the webhook injected (labelled,
/// listing the Secret, annotated with the robot as admission saw them) and as many Pods it never
/// touched. Pods are running Pods as a list returns them (spec and status, about 4 KB of JSON;
/// real ones also carry managedFields, so they are larger still).
/// </summary>
internal static class ScaleCluster
{
    public const string Robot = "acme+puller";

    public static string Namespace(int i) => string.Create(CultureInfo.InvariantCulture, $"team-{i:0000}");

    public static string ServiceAccount(int i) => string.Create(CultureInfo.InvariantCulture, $"app-{i}");

    public static PullSecretKey Key(ScaleShape shape, int secret, string registryHost) =>
        new(Namespace(secret / shape.SecretsPerNamespace), ServiceAccount(secret % shape.SecretsPerNamespace), registryHost, Robot);

    /// <summary>Seeds everything and tells the Quay stand-in to trust every ServiceAccount for the robot, so a re-created Secret can exchange.</summary>
    public static void Seed(ScaleShape shape, FakeKubernetesApi kube, FakeQuay quay, DateTimeOffset now)
    {
        var token = QuayLikeToken(now);
        for (var n = 0; n < shape.Namespaces; n++)
        {
            var ns = Namespace(n);
            kube.AddNamespace(new V1Namespace { Metadata = new V1ObjectMeta { Name = ns } });
            for (var s = 0; s < shape.SecretsPerNamespace; s++)
            {
                kube.AddServiceAccount(new V1ServiceAccount { Metadata = new V1ObjectMeta { Name = ServiceAccount(s), NamespaceProperty = ns } });
                quay.TrustSubject(Robot, kube.Issuer, $"system:serviceaccount:{ns}:{ServiceAccount(s)}");
            }
        }

        kube.PutSecrets(Enumerable.Range(0, shape.Secrets).Select(i => PullSecretManifest.Build(Key(shape, i, quay.Host), token)));
        // In chunks, so only a few thousand typed Pods exist at once; built in parallel while the stand-in copies them in.
        foreach (var chunk in Enumerable.Range(0, shape.InjectedPods).Chunk(SeedChunk))
            kube.PutPods(chunk.AsParallel().AsOrdered().Select(i => InjectedPod(shape, i, quay.Host)));
        foreach (var chunk in Enumerable.Range(0, shape.OtherPods).Chunk(SeedChunk))
            kube.PutPods(chunk.AsParallel().AsOrdered().Select(i => OtherPod(shape, i)));
    }

    private const int SeedChunk = 5_000;

    /// <summary>A token shaped like Quay's (RS256 JWT with iss, sub, aud, iat, nbf, exp), issued now and valid for an hour; shared by every Secret.</summary>
    private static QuayToken QuayLikeToken(DateTimeOffset now)
    {
        using var key = RSA.Create(2048);
        var expires = now.AddHours(1);
        var jwt = FakeJwt.SignRs256(key, "quay-bench", new JsonObject
        {
            ["iss"] = "quay",
            ["sub"] = Robot,
            ["aud"] = "quay",
            ["iat"] = now.ToUnixTimeSeconds(),
            ["nbf"] = now.ToUnixTimeSeconds(),
            ["exp"] = expires.ToUnixTimeSeconds(),
            ["context"] = new JsonObject { ["kind"] = "robot", ["entity_reference"] = Robot },
        });
        return new QuayToken(jwt, DateTimeOffset.FromUnixTimeSeconds(expires.ToUnixTimeSeconds()));
    }

    private static V1Pod InjectedPod(ScaleShape shape, int i, string registryHost)
    {
        var key = Key(shape, i / shape.InjectedPodsPerSecret, registryHost);
        var name = string.Create(CultureInfo.InvariantCulture, $"{key.ServiceAccount}-7d9f8b6c5d-{i % shape.InjectedPodsPerSecret:00000}");
        return Pod(key.Namespace, name, key.ServiceAccount, injectedSecret: key.SecretName, i);
    }

    private static V1Pod OtherPod(ScaleShape shape, int i)
    {
        var name = string.Create(CultureInfo.InvariantCulture, $"batch-5c8d7f9b4-{i % shape.OtherPodsPerNamespace:00000}");
        return Pod(Namespace(i / shape.OtherPodsPerNamespace), name, "default", injectedSecret: null, i);
    }

    private static V1Pod Pod(string ns, string name, string serviceAccount, string? injectedSecret, int i)
    {
        var json = Template
            .Replace("$name$", name, StringComparison.Ordinal)
            .Replace("$namespace$", ns, StringComparison.Ordinal)
            .Replace("$sa$", serviceAccount, StringComparison.Ordinal)
            .Replace("$node$", string.Create(CultureInfo.InvariantCulture, $"node-{i % 200:000}"), StringComparison.Ordinal)
            .Replace("$ip$", string.Create(CultureInfo.InvariantCulture, $"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"), StringComparison.Ordinal);
        var pod = KubernetesJson.Deserialize<V1Pod>(json);
        if (injectedSecret is not null)
        {
            pod.Metadata.Labels[WellKnown.InjectedLabel] = WellKnown.InjectedValue;
            pod.Metadata.Annotations[WellKnown.RobotAccountAnnotation] = Robot;
            pod.Spec.ImagePullSecrets = [new V1LocalObjectReference { Name = injectedSecret }];
        }
        return pod;
    }

    private const string Template = """
        {
          "metadata": {
            "name": "$name$",
            "generateName": "$name$-",
            "namespace": "$namespace$",
            "labels": { "app.kubernetes.io/name": "$sa$", "app.kubernetes.io/instance": "$sa$", "pod-template-hash": "7d9f8b6c5d" },
            "annotations": { "kubectl.kubernetes.io/restartedAt": "2025-01-01T00:00:00Z" },
            "ownerReferences": [ { "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "$sa$-7d9f8b6c5d", "uid": "0b6a4a43-2f1e-4f5e-9a53-7c0f6f0f8c11", "controller": true, "blockOwnerDeletion": true } ]
          },
          "spec": {
            "volumes": [
              { "name": "config", "configMap": { "name": "$sa$-config", "defaultMode": 420 } },
              { "name": "kube-api-access-x7k2p", "projected": { "sources": [
                { "serviceAccountToken": { "expirationSeconds": 3607, "path": "token" } },
                { "configMap": { "name": "kube-root-ca.crt", "items": [ { "key": "ca.crt", "path": "ca.crt" } ] } },
                { "downwardAPI": { "items": [ { "path": "namespace", "fieldRef": { "apiVersion": "v1", "fieldPath": "metadata.namespace" } } ] } } ],
                "defaultMode": 420 } }
            ],
            "containers": [
              {
                "name": "app",
                "image": "quay.io/acme/$sa$:1.24.3",
                "ports": [ { "name": "http", "containerPort": 8080, "protocol": "TCP" } ],
                "env": [
                  { "name": "ASPNETCORE_URLS", "value": "http://+:8080" },
                  { "name": "POD_NAME", "valueFrom": { "fieldRef": { "apiVersion": "v1", "fieldPath": "metadata.name" } } }
                ],
                "resources": { "limits": { "memory": "256Mi" }, "requests": { "cpu": "100m", "memory": "128Mi" } },
                "volumeMounts": [
                  { "name": "config", "readOnly": true, "mountPath": "/etc/app" },
                  { "name": "kube-api-access-x7k2p", "readOnly": true, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount" }
                ],
                "readinessProbe": { "httpGet": { "path": "/readyz", "port": "http", "scheme": "HTTP" }, "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3 },
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File",
                "imagePullPolicy": "IfNotPresent",
                "securityContext": { "allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true, "runAsNonRoot": true, "capabilities": { "drop": [ "ALL" ] } }
              }
            ],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            "serviceAccountName": "$sa$",
            "serviceAccount": "$sa$",
            "nodeName": "$node$",
            "securityContext": { "seccompProfile": { "type": "RuntimeDefault" } },
            "schedulerName": "default-scheduler",
            "tolerations": [
              { "key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300 },
              { "key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300 }
            ],
            "priority": 0,
            "enableServiceLinks": true,
            "preemptionPolicy": "PreemptLowerPriority"
          },
          "status": {
            "phase": "Running",
            "conditions": [
              { "type": "PodReadyToStartContainers", "status": "True", "lastTransitionTime": "2025-01-01T00:00:03Z" },
              { "type": "Initialized", "status": "True", "lastTransitionTime": "2025-01-01T00:00:01Z" },
              { "type": "Ready", "status": "True", "lastTransitionTime": "2025-01-01T00:00:09Z" },
              { "type": "ContainersReady", "status": "True", "lastTransitionTime": "2025-01-01T00:00:09Z" },
              { "type": "PodScheduled", "status": "True", "lastTransitionTime": "2025-01-01T00:00:00Z" }
            ],
            "hostIP": "192.168.0.1",
            "hostIPs": [ { "ip": "192.168.0.1" } ],
            "podIP": "$ip$",
            "podIPs": [ { "ip": "$ip$" } ],
            "startTime": "2025-01-01T00:00:00Z",
            "containerStatuses": [
              {
                "name": "app",
                "state": { "running": { "startedAt": "2025-01-01T00:00:04Z" } },
                "lastState": {},
                "ready": true,
                "restartCount": 0,
                "image": "quay.io/acme/$sa$:1.24.3",
                "imageID": "quay.io/acme/$sa$@sha256:4c1e3a1f6b9d2e7a8c0f5b3d9e1a7c2f4b6d8e0a1c3f5b7d9e2a4c6f8b0d1e3a",
                "containerID": "containerd://9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0",
                "started": true
              }
            ],
            "qosClass": "Burstable"
          }
        }
        """;
}
