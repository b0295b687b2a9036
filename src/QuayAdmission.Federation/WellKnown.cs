namespace QuayAdmission;

/// <summary>
/// The names of the public contract (DESIGN.md): annotations, labels and the Secret type. Here, in
/// the assembly the webhook and the credential provider share, so each name has one home.
/// </summary>
public static class WellKnown
{
    public const string RobotAccountAnnotation = "quay-admission.io/robot-account";
    public const string InjectAnnotation = "quay-admission.io/inject";
    public const string RegistryAnnotation = "quay-admission.io/registry";
    public const string ServiceAccountAnnotation = "quay-admission.io/service-account";
    public const string ExpiresAtAnnotation = "quay-admission.io/expires-at";
    public const string InjectedLabel = "quay-admission.io/injected";
    public const string InjectedValue = "true";
    public const string ManagedByLabel = "app.kubernetes.io/managed-by";
    public const string ManagedByValue = "quay-admission";
    public const string MirrorPodAnnotation = "kubernetes.io/config.mirror";
    public const string DockerConfigJsonType = "kubernetes.io/dockerconfigjson";
    public const string DockerConfigJsonKey = ".dockerconfigjson";
}
