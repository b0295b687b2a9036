namespace QuayAdmission.CredentialProvider.Credentials;

/// <summary>The registry part of an image reference, read the way container runtimes read it.</summary>
public static class ImageReference
{
    private const string DockerHub = "docker.io";

    /// <summary>
    /// <c>quay.io/acme/app:1</c> gives <c>quay.io</c>, <c>quay.example.com:8443/acme/app@sha256:...</c> gives
    /// <c>quay.example.com:8443</c>; a first part without a dot, a colon or the name localhost is a Docker Hub path.
    /// </summary>
    public static string RegistryHost(string image)
    {
        ArgumentNullException.ThrowIfNull(image);
        var slash = image.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0)
            return DockerHub;
        var first = image[..slash];
        return first.Contains('.', StringComparison.Ordinal) || first.Contains(':', StringComparison.Ordinal) || first == "localhost"
            ? first
            : DockerHub;
    }
}
