namespace QuayAdmission.CredentialProvider;

/// <summary>The request or the configuration cannot be served. The message is the one line the kubelet logs: no token in it, ever.</summary>
public sealed class CredentialProviderException(string message) : Exception(message);
