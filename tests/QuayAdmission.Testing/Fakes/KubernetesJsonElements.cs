using System.Text.Json;
using System.Text.Json.Serialization;
using k8s;

namespace QuayAdmission.Tests.Fakes;

/// <summary>
/// KubernetesClient's one source-generated context cannot write <c>fieldsV1</c> (an <c>object</c>
/// holding a JsonElement) with reflection off, as every test run has it. The stand-ins and the tests
/// use that client as any other client of a real server would (kubectl, client-go), and those write
/// managedFields back without trouble; so here it learns JsonElement. The webhook never uses
/// KubernetesJson (its own context, KubernetesJsonContext, is what its tests prove).
/// </summary>
/// <remarks>
/// KubernetesJson's options freeze at its first use. <see cref="FakeKubernetesApi"/>, which hands out
/// every object with managedFields, calls <see cref="Teach"/> before its first use; an assembly that
/// may call KubernetesJson before it touches the stand-in (QuayAdmission.Tests) calls it from a
/// module initializer of its own (a module initializer runs per assembly, when that assembly loads).
/// </remarks>
public static class KubernetesJsonElements
{
    private static readonly Lock Gate = new();
    private static bool taught;

    /// <summary>Idempotent: the first call teaches KubernetesJson, later ones do nothing.</summary>
    public static void Teach()
    {
        lock (Gate)
        {
            if (taught)
                return;
            KubernetesJson.AddJsonOptions(options =>
            {
                if (options.IsReadOnly)
                    throw new InvalidOperationException(
                        "KubernetesJson was used before it learnt JsonElement: call KubernetesJsonElements.Teach() from a [ModuleInitializer] of this assembly");
                options.TypeInfoResolverChain.Add(ElementJsonContext.Default);
            });
            taught = true;
        }
    }
}

[JsonSerializable(typeof(JsonElement))]
internal sealed partial class ElementJsonContext : JsonSerializerContext;
