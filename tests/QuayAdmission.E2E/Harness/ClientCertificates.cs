using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace QuayAdmission.E2E.Harness;

/// <summary>
/// A client certificate the API server accepts as a user: signed by its client CA
/// (<c>$REALK8S_DIR/pki/ca.crt</c> and <c>ca.key</c>), the user name its CN, the groups its O values.
/// </summary>
internal static class ClientCertificates
{
    private static readonly Oid ClientAuthentication = new("1.3.6.1.5.5.7.3.2");

    public sealed record Issued(string CertificatePem, string KeyPem);

    public static Issued Issue(string caCertificatePem, string caKeyPem, string user, IReadOnlyList<string> groups, TimeSpan lifetime)
    {
        ArgumentNullException.ThrowIfNull(groups);
        using var ca = X509Certificate2.CreateFromPem(caCertificatePem, caKeyPem);
        using var key = RSA.Create(2048);
        var subject = new X500DistinguishedNameBuilder();
        foreach (var group in groups)
            subject.AddOrganizationName(group);
        subject.AddCommonName(user);
        var request = new CertificateRequest(subject.Build(), key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([ClientAuthentication], false));
        // Real time: the API server checks validity against its clock. Within the CA's own validity, which
        // may have begun a moment ago (up.sh makes the CA at the control plane's first start).
        var now = DateTimeOffset.UtcNow;
        var notBefore = Max(now.AddMinutes(-5), new DateTimeOffset(ca.NotBefore.ToUniversalTime()));
        var notAfter = Min(now + lifetime, new DateTimeOffset(ca.NotAfter.ToUniversalTime()));
        using var certificate = request.Create(ca, notBefore, notAfter, RandomNumberGenerator.GetBytes(16));
        return new Issued(certificate.ExportCertificatePem(), key.ExportPkcs8PrivateKeyPem());
    }

    /// <summary>A kubeconfig for that user against <paramref name="server"/>, trusting <paramref name="caFile"/>. Owner-only: it holds a key.</summary>
    public static string WriteKubeconfig(string path, string server, string caFile, string user, Issued credentials)
    {
        ArgumentNullException.ThrowIfNull(credentials);
        Kubeconfigs.Write(path, server, caFile, user,
            $"client-certificate-data: {Base64(credentials.CertificatePem)}\n    client-key-data: {Base64(credentials.KeyPem)}");
        return path;
    }

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    private static string Base64(string pem) => Convert.ToBase64String(System.Text.Encoding.ASCII.GetBytes(pem));
}

/// <summary>The kubeconfig files the harness writes: one cluster, one user, one context.</summary>
internal static class Kubeconfigs
{
    /// <param name="userFields">The user's credential fields, YAML, indented for under <c>user:</c>.</param>
    public static void Write(string path, string server, string caFile, string user, string userFields)
    {
        var text = $"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: realk8s
              cluster:
                server: {server}
                certificate-authority: {caFile}
            users:
            - name: {user}
              user:
                {userFields}
            contexts:
            - name: {user}
              context:
                cluster: realk8s
                user: {user}
            current-context: {user}

            """;
        File.WriteAllText(path, "");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.WriteAllText(path, text);
    }

    /// <summary>A kubeconfig that authenticates with a bearer token (a ServiceAccount's, from TokenRequest).</summary>
    public static string WriteWithToken(string path, string server, string caFile, string user, string token)
    {
        Write(path, server, caFile, user, $"token: {token}");
        return path;
    }
}
