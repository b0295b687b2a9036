using System.Security.Cryptography;
using System.Text;

namespace QuayAdmission.PullSecrets;

/// <summary>
/// What a pull Secret holds a token for. Its name is derived from it alone, so every replica
/// and every retry agrees on the name before any token exists.
/// </summary>
public sealed record PullSecretKey(string Namespace, string ServiceAccount, string RegistryHost, string Robot)
{
    private const int MaxNameLength = 63;
    private const int HashLength = 10;
    public const string Prefix = "quay-";

    public string SecretName { get; } = NameFor(ServiceAccount, RegistryHost, Robot);

    /// <summary><c>quay-&lt;robot&gt;-&lt;10 hex of sha256("host/robot@sa")&gt;</c>, a DNS label of at most 63 characters.</summary>
    public static string NameFor(string serviceAccount, string registryHost, string robot)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{registryHost}/{robot}@{serviceAccount}"));
        var suffix = Convert.ToHexStringLower(hash)[..HashLength];

        var readable = robot.ToLowerInvariant().Replace('+', '-').Replace('_', '-').Replace('.', '-');
        var room = MaxNameLength - Prefix.Length - 1 - HashLength;
        if (readable.Length > room)
            readable = readable[..room];
        return $"{Prefix}{readable}-{suffix}";
    }
}
