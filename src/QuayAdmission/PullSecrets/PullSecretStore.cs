using System.Net;
using k8s.Models;
using QuayAdmission.Kubernetes;

namespace QuayAdmission.PullSecrets;

/// <summary>The managed Secrets in the API. Conflicts surface as <see cref="SecretConflictException"/>.</summary>
public sealed class PullSecretStore(KubernetesApi api) : ISecretDeleter
{
    public static readonly string ManagedSelector = $"{WellKnown.ManagedByLabel}={WellKnown.ManagedByValue}";

    public async Task<V1Secret?> GetAsync(string ns, string name, CancellationToken ct)
    {
        try
        {
            return await api.ReadSecretAsync(ns, name, ct);
        }
        catch (Exception e) when (e.IsStatus(HttpStatusCode.NotFound))
        {
            return null;
        }
    }

    public Task<V1Secret> CreateAsync(V1Secret secret, CancellationToken ct) =>
        OnConflict(() => api.CreateSecretAsync(secret, ct));

    /// <summary>Applies a merge patch (<see cref="PullSecretManifest.Patch"/>), only to the resourceVersion it names.</summary>
    public Task<V1Secret> PatchAsync(string ns, string name, V1Secret patch, CancellationToken ct) =>
        OnConflict(() => api.PatchSecretAsync(ns, name, patch, ct));

    public async Task<IList<V1Secret>> ListManagedAsync(CancellationToken ct) =>
        (await api.ListSecretsAsync(ManagedSelector, limit: null, continueToken: null, ct)).Items;

    /// <summary>Deletes the Secret if it still has <paramref name="resourceVersion"/>; false when it changed or is gone.</summary>
    public async Task<bool> DeleteAsync(string ns, string name, string resourceVersion, CancellationToken ct)
    {
        try
        {
            await api.DeleteSecretAsync(ns, name, resourceVersion, ct);
            return true;
        }
        catch (Exception e) when (e.IsStatus(HttpStatusCode.NotFound) || e.IsStatus(HttpStatusCode.Conflict))
        {
            return false;
        }
    }

    private static async Task<V1Secret> OnConflict(Func<Task<V1Secret>> write)
    {
        try
        {
            return await write();
        }
        catch (Exception e) when (e.IsStatus(HttpStatusCode.Conflict))
        {
            throw new SecretConflictException();
        }
    }
}

/// <summary>The one write the refresher makes itself (renewals go through the provisioner): the seam its reconciler is tested through.</summary>
public interface ISecretDeleter
{
    /// <inheritdoc cref="PullSecretStore.DeleteAsync"/>
    Task<bool> DeleteAsync(string ns, string name, string resourceVersion, CancellationToken ct);
}

/// <summary>Another writer got there first (AlreadyExists on create, Conflict on a stale resourceVersion).</summary>
public sealed class SecretConflictException() : Exception("the Secret was written concurrently");
