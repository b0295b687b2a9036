extern alias KubernetesFull;

using KubernetesFull::k8s.Models;

namespace QuayAdmission.Tests.Manifests;

/// <summary>One admission request as a ValidatingAdmissionPolicy sees it.</summary>
internal sealed record PolicyRequest(string Operation, string Resource, string? SubResource, string? Namespace, string Username, object? Object, object? OldObject = null)
{
    public Dictionary<string, object?> ToCel() => Cel.Map(
        ("operation", Operation),
        ("namespace", Namespace),
        ("resource", Cel.Map(("group", ""), ("version", "v1"), ("resource", Resource))),
        ("subResource", SubResource),
        ("userInfo", Cel.Map(("username", Username))));
}

/// <summary>What a policy and its binding decided: whether they applied, and if so whether they allowed it and why not.</summary>
internal sealed record PolicyDecision(bool Applies, bool Allowed, string? Message)
{
    public static readonly PolicyDecision NotApplicable = new(false, true, null);

    public override string ToString() => !Applies ? "not applicable" : Allowed ? "allowed" : $"denied: {Message}";
}

/// <summary>
/// The steps kube-apiserver takes for a ValidatingAdmissionPolicy and its binding, as far as the
/// manifests use them: resource rules, match conditions, lazy variables, validations and
/// messageExpression, the failure policy for an expression that errors, and the binding's
/// validationActions (only Deny refuses). CEL runs in <see cref="Cel"/>. Parameters (paramKind,
/// paramRef) are not modelled: the manifests' policies take none, and one that did fails here.
/// </summary>
internal static class PolicyEvaluation
{
    public static PolicyDecision Evaluate(V1ValidatingAdmissionPolicy policy, V1ValidatingAdmissionPolicyBinding binding, PolicyRequest request)
    {
        var spec = policy.Spec;
        Assert.Equal(policy.Metadata.Name, binding.Spec.PolicyName);
        if (spec.ParamKind is not null || binding.Spec.ParamRef is not null)
            throw new NotSupportedException($"{policy.Metadata.Name}: policy parameters are not modelled");
        var resource = request.SubResource is null ? request.Resource : $"{request.Resource}/{request.SubResource}";
        if (!spec.MatchConstraints.ResourceRules.Any(rule => rule.Operations.Contains(request.Operation) && rule.Resources.Contains(resource)))
            return PolicyDecision.NotApplicable;
        var failClosed = spec.FailurePolicy is null or "Fail";
        // Warn and Audit report a failed validation; only Deny refuses the request.
        var denies = binding.Spec.ValidationActions.Contains("Deny");

        var variables = new Dictionary<string, object?>();
        var scope = new Dictionary<string, object?>
        {
            ["object"] = request.Object,
            ["oldObject"] = request.OldObject,
            ["request"] = request.ToCel(),
            ["variables"] = variables,
        };
        foreach (var variable in spec.Variables ?? [])
            variables[variable.Name] = new Lazy<object?>(() => Cel.Evaluate(variable.Expression, scope));

        try
        {
            foreach (var condition in spec.MatchConditions ?? [])
            {
                if (!(bool)Cel.Evaluate(condition.Expression, scope)!)
                    return PolicyDecision.NotApplicable;
            }
            foreach (var validation in spec.Validations)
            {
                if ((bool)Cel.Evaluate(validation.Expression, scope)!)
                    continue;
                var message = validation.MessageExpression is { } expression ? (string)Cel.Evaluate(expression, scope)! : validation.Message;
                return new PolicyDecision(true, !denies, message ?? $"failed expression: {validation.Expression}");
            }
        }
        catch (Cel.CelException e)
        {
            return failClosed ? new PolicyDecision(true, !denies, $"expression error: {e.Message}") : PolicyDecision.NotApplicable;
        }
        return new PolicyDecision(true, true, null);
    }
}
