using QuayAdmission.Patching;

namespace QuayAdmission.Admission;

/// <summary>
/// What the decision concluded, without the protocol: <see cref="ToResponse"/> adds the uid in
/// every branch, so no outcome can forget it.
/// </summary>
public abstract record AdmissionOutcome(IReadOnlyList<string> Warnings)
{
    public sealed record Allowed(IReadOnlyList<string> Warnings) : AdmissionOutcome(Warnings)
    {
        public Allowed()
            : this([])
        {
        }
    }

    public sealed record Patched(IReadOnlyList<PatchOperation> Operations, IReadOnlyList<string> Warnings) : AdmissionOutcome(Warnings);

    public sealed record Denied(int Code, string Message) : AdmissionOutcome([]);

    public AdmissionResponse ToResponse(string uid) => this switch
    {
        // A patch without operations is not a patch: leave patchType out entirely.
        Patched { Operations.Count: > 0 } patched => new AdmissionResponse
        {
            Uid = uid,
            Allowed = true,
            PatchType = "JSONPatch",
            Patch = PatchOperation.Serialize(patched.Operations),
            Warnings = WarningsOrNull(),
        },
        Denied denied => new AdmissionResponse
        {
            Uid = uid,
            Allowed = false,
            Status = new AdmissionStatus(denied.Code, denied.Message),
        },
        _ => new AdmissionResponse { Uid = uid, Allowed = true, Warnings = WarningsOrNull() },
    };

    private IReadOnlyList<string>? WarningsOrNull() => Warnings.Count == 0 ? null : Warnings;
}
