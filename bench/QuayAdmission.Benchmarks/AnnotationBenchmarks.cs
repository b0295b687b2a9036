using BenchmarkDotNet.Attributes;
using QuayAdmission.Robots;

namespace QuayAdmission.Benchmarks;

/// <summary>The robot-account annotation, as a Pod carries it.</summary>
[MemoryDiagnoser]
public class AnnotationBenchmarks
{
    [Benchmark]
    public IReadOnlyList<RobotReference> OneRobot() => Parse("acme+puller");

    [Benchmark]
    public IReadOnlyList<RobotReference> OneRobotWithHost() => Parse("quay.example.com/acme+puller");

    [Benchmark]
    public IReadOnlyList<RobotReference> ThreeRobots() => Parse("acme+puller, registry.example.org:5000/acme+builder,quay.example.com/tools+ci_bot");

    private static IReadOnlyList<RobotReference> Parse(string annotation) =>
        RobotReferenceParser.TryParse(annotation, Fixtures.Hosts, out var references, out _) ? references : throw new InvalidOperationException("refused");
}
