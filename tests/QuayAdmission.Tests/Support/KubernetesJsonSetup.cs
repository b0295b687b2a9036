using System.Runtime.CompilerServices;
using QuayAdmission.Tests.Fakes;

namespace QuayAdmission.Tests.Support;

/// <summary>KubernetesJson learns JsonElement before this assembly first uses it (<see cref="KubernetesJsonElements"/> says why).</summary>
internal static class KubernetesJsonSetup
{
    [ModuleInitializer]
    internal static void Initialize() => KubernetesJsonElements.Teach();
}
