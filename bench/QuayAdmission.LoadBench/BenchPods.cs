using System.Text.Json.Nodes;

namespace QuayAdmission.LoadBench;

/// <summary>
/// A Pod as a ReplicaSet creates it: labels, owner reference, two containers with env, resources,
/// probes and mounts, volumes and tolerations. About 3 KB, like the pods a cluster admits, so parsing
/// cost is not flattered by a toy body.
/// </summary>
internal static class BenchPods
{
    private const string Template = """
        {
          "kind": "Pod",
          "apiVersion": "v1",
          "metadata": {
            "generateName": "web-7d9f8b6c5d-",
            "namespace": "NS",
            "labels": { "app.kubernetes.io/name": "web", "app.kubernetes.io/instance": "web", "pod-template-hash": "7d9f8b6c5d" },
            "annotations": { "quay-admission.io/robot-account": "ROBOT", "kubectl.kubernetes.io/restartedAt": "2025-01-01T00:00:00Z" },
            "ownerReferences": [ { "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d9f8b6c5d", "uid": "0b6a4a43-2f1e-4f5e-9a53-7c0f6f0f8c11", "controller": true, "blockOwnerDeletion": true } ]
          },
          "spec": {
            "volumes": [
              { "name": "config", "configMap": { "name": "web-config", "defaultMode": 420 } },
              { "name": "kube-api-access-x7k2p", "projected": { "sources": [
                { "serviceAccountToken": { "expirationSeconds": 3607, "path": "token" } },
                { "configMap": { "name": "kube-root-ca.crt", "items": [ { "key": "ca.crt", "path": "ca.crt" } ] } },
                { "downwardAPI": { "items": [ { "path": "namespace", "fieldRef": { "apiVersion": "v1", "fieldPath": "metadata.namespace" } } ] } } ],
                "defaultMode": 420 } }
            ],
            "containers": [
              {
                "name": "app",
                "image": "quay.io/acme/web:1.24.3",
                "ports": [ { "name": "http", "containerPort": 8080, "protocol": "TCP" } ],
                "env": [
                  { "name": "ASPNETCORE_URLS", "value": "http://+:8080" },
                  { "name": "POD_NAME", "valueFrom": { "fieldRef": { "apiVersion": "v1", "fieldPath": "metadata.name" } } },
                  { "name": "DB_PASSWORD", "valueFrom": { "secretKeyRef": { "name": "web-db", "key": "password" } } }
                ],
                "resources": { "limits": { "memory": "256Mi" }, "requests": { "cpu": "100m", "memory": "128Mi" } },
                "volumeMounts": [
                  { "name": "config", "readOnly": true, "mountPath": "/etc/web" },
                  { "name": "kube-api-access-x7k2p", "readOnly": true, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount" }
                ],
                "readinessProbe": { "httpGet": { "path": "/readyz", "port": "http", "scheme": "HTTP" }, "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3 },
                "livenessProbe": { "httpGet": { "path": "/healthz", "port": "http", "scheme": "HTTP" }, "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3 },
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File",
                "imagePullPolicy": "IfNotPresent",
                "securityContext": { "allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true, "runAsNonRoot": true, "capabilities": { "drop": [ "ALL" ] } }
              },
              {
                "name": "metrics",
                "image": "quay.io/acme/exporter:0.9.1",
                "ports": [ { "name": "metrics", "containerPort": 9100, "protocol": "TCP" } ],
                "resources": { "limits": { "memory": "64Mi" }, "requests": { "cpu": "10m", "memory": "32Mi" } },
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File",
                "imagePullPolicy": "IfNotPresent"
              }
            ],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            "serviceAccountName": "SA",
            "serviceAccount": "SA",
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
          "status": {}
        }
        """;

    public static string Pod(string ns, string serviceAccount, string robotAnnotation)
    {
        var pod = JsonNode.Parse(Template)!;
        pod["metadata"]!["namespace"] = ns;
        pod["metadata"]!["annotations"]!["quay-admission.io/robot-account"] = robotAnnotation;
        pod["spec"]!["serviceAccountName"] = serviceAccount;
        pod["spec"]!["serviceAccount"] = serviceAccount;
        return pod.ToJsonString();
    }
}
