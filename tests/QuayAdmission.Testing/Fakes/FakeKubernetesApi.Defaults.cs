using k8s.Models;

namespace QuayAdmission.Tests.Fakes;

public sealed partial class FakeKubernetesApi
{
    private const string NotReadyTaint = "node.kubernetes.io/not-ready";
    private const string UnreachableTaint = "node.kubernetes.io/unreachable";

    /// <summary>
    /// What the API server's defaulting and admission (ServiceAccount, DefaultTolerationSeconds) add to a
    /// Pod on create, as ../shared/kube-apiserver-responses/pod.json shows them: a reader of Pods meets
    /// fields it did not ask for, the projected token volume among them. Only what is missing is set.
    /// </summary>
    private static void Defaults<T>(T obj)
    {
        if (obj is not V1Pod pod)
        {
            return;
        }

        var spec = pod.Spec ??= new V1PodSpec();
        spec.Containers ??= [];
        spec.RestartPolicy ??= "Always";
        spec.TerminationGracePeriodSeconds ??= 30;
        spec.DnsPolicy ??= "ClusterFirst";
        spec.ServiceAccountName ??= spec.ServiceAccount ?? "default";
        spec.ServiceAccount ??= spec.ServiceAccountName;
        spec.SecurityContext ??= new V1PodSecurityContext();
        spec.SchedulerName ??= "default-scheduler";
        spec.Priority ??= 0;
        spec.EnableServiceLinks ??= true;
        spec.PreemptionPolicy ??= "PreemptLowerPriority";
        spec.Tolerations ??= [];
        foreach (var taint in new[] { NotReadyTaint, UnreachableTaint })
        {
            if (!spec.Tolerations.Any(t => t.Key == taint))
            {
                spec.Tolerations.Add(new V1Toleration { Key = taint, OperatorProperty = "Exists", Effect = "NoExecute", TolerationSeconds = 300 });
            }
        }

        var volume = "kube-api-access-" + Guid.NewGuid().ToString("N")[..5];
        spec.Volumes ??= [];
        if (!spec.Volumes.Any(v => v.Name.StartsWith("kube-api-access-", StringComparison.Ordinal)))
        {
            spec.Volumes.Add(TokenVolume(volume));
        }

        foreach (var container in spec.Containers)
        {
            container.Resources ??= new V1ResourceRequirements();
            container.TerminationMessagePath ??= "/dev/termination-log";
            container.TerminationMessagePolicy ??= "File";
            container.ImagePullPolicy ??= PullsAlways(container.Image) ? "Always" : "IfNotPresent";
            container.VolumeMounts ??= [];
            if (!container.VolumeMounts.Any(m => m.MountPath == "/var/run/secrets/kubernetes.io/serviceaccount"))
            {
                container.VolumeMounts.Add(new V1VolumeMount { Name = volume, ReadOnlyProperty = true, MountPath = "/var/run/secrets/kubernetes.io/serviceaccount" });
            }
        }

        pod.Status ??= new V1PodStatus();
        pod.Status.Phase ??= "Pending";
        pod.Status.QosClass ??= "BestEffort";

        // No tag, or :latest, and no digest.
        static bool PullsAlways(string? image) =>
            image is null
            || (!image.Contains('@', StringComparison.Ordinal)
                && (image.LastIndexOf(':') <= image.LastIndexOf('/') || image.EndsWith(":latest", StringComparison.Ordinal)));
    }

    private static V1Volume TokenVolume(string name) => new()
    {
        Name = name,
        Projected = new V1ProjectedVolumeSource
        {
            DefaultMode = 420,
            Sources =
            [
                new V1VolumeProjection { ServiceAccountToken = new V1ServiceAccountTokenProjection { ExpirationSeconds = 3607, Path = "token" } },
                new V1VolumeProjection { ConfigMap = new V1ConfigMapProjection { Name = "kube-root-ca.crt", Items = [new V1KeyToPath { Key = "ca.crt", Path = "ca.crt" }] } },
                new V1VolumeProjection
                {
                    DownwardAPI = new V1DownwardAPIProjection
                    {
                        Items = [new V1DownwardAPIVolumeFile { Path = "namespace", FieldRef = new V1ObjectFieldSelector { ApiVersion = "v1", FieldPath = "metadata.namespace" } }],
                    },
                },
            ],
        },
    };
}
