namespace QuayAdmission.Tests.Manifests;

/// <summary>The checkers themselves: a misspelt field must fail, or the other tests prove nothing.</summary>
public class StrictLoadingTests
{
    private static readonly CrdSchema Schemas = CrdSchema.Load(RepoPaths.Crds);

    [Fact]
    public void A_misspelt_field_in_a_typed_object_fails()
    {
        const string Deployment = """
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: x
            spec:
              selector: {}
              template:
                spec:
                  containers:
                    - name: x
                      imagee: x
            """;

        var e = Assert.Throws<InvalidDataException>(() => ManifestLoader.Parse(Deployment, "test"));
        Assert.Contains("imagee", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_kind_KubernetesClient_does_not_know_fails()
    {
        const string Unknown = """
            apiVersion: example.com/v1
            kind: Widget
            metadata:
              name: x
            """;

        Assert.Throws<InvalidDataException>(() => ManifestLoader.Parse(Unknown, "test"));
    }

    [Theory]
    [InlineData("  dnsName: [a]", "spec.dnsName: not in the schema")]
    [InlineData("  isCA: \"yes\"", "spec.isCA: expected a boolean")]
    [InlineData("  privateKey: {algorithm: DSA}", "spec.privateKey.algorithm: 'DSA' is not one of")]
    [InlineData("  privateKey: {size: big}", "spec.privateKey.size: expected an integer")]
    public void A_cert_manager_spec_off_its_schema_fails(string line, string error)
    {
        var yaml = $$"""
            apiVersion: cert-manager.io/v1
            kind: Certificate
            metadata:
              name: x
            spec:
              secretName: x
              issuerRef: {name: x}
            {{line}}
            """;

        Assert.Contains(Validate(yaml), message => message.Contains(error, StringComparison.Ordinal));
    }

    [Fact]
    public void A_cert_manager_object_without_a_required_field_fails()
    {
        const string Certificate = """
            apiVersion: cert-manager.io/v1
            kind: Certificate
            metadata:
              name: x
            spec:
              secretName: x
            """;

        Assert.Contains("Certificate x.spec.issuerRef: required", Validate(Certificate));
    }

    [Fact]
    public void A_misspelt_metadata_field_in_a_cert_manager_object_fails()
    {
        const string Issuer = """
            apiVersion: cert-manager.io/v1
            kind: Issuer
            metadata:
              name: x
              lables: {a: b}
            spec:
              selfSigned: {}
            """;

        Assert.Contains(Validate(Issuer), message => message.Contains("lables", StringComparison.Ordinal));
    }

    [Fact]
    public void A_cert_manager_object_on_its_schema_passes()
    {
        const string Certificate = """
            apiVersion: cert-manager.io/v1
            kind: Certificate
            metadata:
              name: x
              namespace: y
            spec:
              secretName: x
              duration: 1h
              isCA: false
              privateKey: {algorithm: ECDSA, size: 256}
              issuerRef: {name: x, kind: Issuer}
            """;

        Assert.Empty(Validate(Certificate));
    }

    private static IReadOnlyList<string> Validate(string yaml) =>
        Schemas.Validate(Assert.Single(ManifestLoader.Parse(yaml, "test")));

    [Theory]
    [InlineData("2160h", 2160 * 60)]
    [InlineData("1h30m", 90)]
    [InlineData("90m0s", 90)]
    public void Go_durations_parse(string text, int minutes) =>
        Assert.Equal(TimeSpan.FromMinutes(minutes), GoDuration.Parse(text));

    [Fact]
    public void A_duration_with_days_is_not_a_Go_duration() =>
        Assert.Throws<FormatException>(() => GoDuration.Parse("90d"));
}
