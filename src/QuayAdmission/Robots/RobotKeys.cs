using QuayAdmission.PullSecrets;

namespace QuayAdmission.Robots;

/// <summary>The robot-account annotation that applies to a Pod, and where it came from (null: the Pod itself).</summary>
public sealed record RobotAnnotation(string Value, string? Origin);

/// <summary>
/// The keys of the pull Secrets an annotation asks for, or why it is refused. <see cref="Resolve"/>
/// is the one place an annotation becomes keys under the rules: admission, the refresher's desired
/// keys (<see cref="RobotResolver.KeysAsync"/>) and the managed-Secret trust boundary
/// (<see cref="TenantInput.TryKeyOf"/>) all go through it, so they cannot disagree.
/// </summary>
public sealed record RobotKeys(IReadOnlyList<PullSecretKey> Keys, ReferenceError? Refusal)
{
    /// <summary>No annotation applies: nothing to inject, nothing refused.</summary>
    public static readonly RobotKeys None = new([], null);

    /// <summary>
    /// Parses <paramref name="annotation"/> against the configured registries (<paramref name="hosts"/>,
    /// the first the default), checks it against AllowedRobots for <paramref name="ns"/>, and names a
    /// key per reference for <paramref name="serviceAccount"/>. A refusal starts with the annotation's
    /// origin when that is not the Pod. The namespace and ServiceAccount must be valid API names
    /// already: the callers check them where they read them.
    /// </summary>
    public static RobotKeys Resolve(string ns, string serviceAccount, RobotAnnotation? annotation, IReadOnlyList<string> hosts, RobotPolicy policy)
    {
        if (annotation is null)
            return None;
        var error = RobotReferenceParser.TryParse(annotation.Value, hosts, out var references, out var invalid)
            ? policy.Check(ns, references)
            : invalid!;
        if (error is not null)
            return new([], annotation.Origin is null ? error : error with { Message = $"{annotation.Origin}: {error.Message}" });

        var keys = new PullSecretKey[references.Count];
        for (var i = 0; i < keys.Length; i++)
            keys[i] = new PullSecretKey(ns, serviceAccount, references[i].RegistryHost, references[i].Robot);
        return new(keys, null);
    }
}
