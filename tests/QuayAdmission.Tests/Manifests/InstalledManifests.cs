extern alias KubernetesFull;

using KubernetesFull::k8s.Models;

namespace QuayAdmission.Tests.Manifests;

/// <summary>
/// The objects of manifests/ as the kustomization lists them. KustomizationTests shows that
/// <c>kubectl kustomize manifests/</c> renders the same objects, so the invariants checked here hold
/// for what is applied.
/// </summary>
internal static class InstalledManifests
{
    public const string Namespace = "quay-admission";

    private static readonly Lazy<IReadOnlyList<ManifestObject>> objects = new(() => ManifestLoader.LoadFiles(RepoPaths.Manifests));

    public static IReadOnlyList<ManifestObject> All => objects.Value;

    public static IEnumerable<T> OfType<T>() => All.Select(o => o.Typed).OfType<T>();

    public static T One<T>() => Assert.Single(OfType<T>());

    public static ManifestObject CertManager(string kind, string name) =>
        All.Single(o => o.IsCertManager && o.Kind == kind && o.Name == name);

    public static V1ConfigMap ConfigMap => One<V1ConfigMap>();

    public static string Config(string key) =>
        ConfigMap.Data.TryGetValue(key, out var value) ? value : throw new KeyNotFoundException($"ConfigMap has no {key}");

    public static TimeSpan ConfigTimeSpan(string key) =>
        TimeSpan.Parse(Config(key), System.Globalization.CultureInfo.InvariantCulture);

    public static V1ServiceAccount ServiceAccount => One<V1ServiceAccount>();

    public static V1Deployment Deployment => One<V1Deployment>();

    public static V1Container Container => Assert.Single(Deployment.Spec.Template.Spec.Containers);
}
