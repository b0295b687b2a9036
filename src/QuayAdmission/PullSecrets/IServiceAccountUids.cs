namespace QuayAdmission.PullSecrets;

/// <summary>
/// The uid of a ServiceAccount, for the ownerReference of its pull Secrets; null when it cannot be
/// read within <c>wait</c> (the Secret is then written without one, and a later write adds it).
/// </summary>
public interface IServiceAccountUids
{
    Task<string?> UidAsync(string ns, string serviceAccount, TimeSpan wait, CancellationToken ct);
}
