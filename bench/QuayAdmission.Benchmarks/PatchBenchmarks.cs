using BenchmarkDotNet.Attributes;
using QuayAdmission.Admission;
using QuayAdmission.Patching;
using QuayAdmission.PullSecrets;

namespace QuayAdmission.Benchmarks;

/// <summary>The patch for one pull Secret name, built from the Pod's facts and serialized as the response carries it.</summary>
[MemoryDiagnoser]
public class PatchBenchmarks
{
    private static readonly string[] Name = [PullSecretKey.NameFor("web", Fixtures.Host, "acme+puller")];
    private readonly PodFacts bare = Fixtures.Pod();
    private readonly PodFacts listing = Fixtures.Pod("registry-a", "registry-b");

    /// <summary>No imagePullSecrets yet: one add of the whole list.</summary>
    [Benchmark]
    public byte[] NewList() => PatchOperation.Serialize(ImagePullSecretsPatch.Build(bare.PullSecrets, Name));

    /// <summary>Two names listed already: one append.</summary>
    [Benchmark]
    public byte[] Append() => PatchOperation.Serialize(ImagePullSecretsPatch.Build(listing.PullSecrets, Name));

    /// <summary>The deterministic name of the Secret (SHA-256), computed for every admission.</summary>
    [Benchmark]
    public string SecretName() => new PullSecretKey("team-a", "web", Fixtures.Host, "acme+puller").SecretName;
}
