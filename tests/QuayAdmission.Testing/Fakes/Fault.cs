namespace QuayAdmission.Tests.Fakes;

/// <summary>
/// How the fake Kubernetes API misbehaves for one operation (see <see cref="FakeKubernetesApi.SetFault"/>).
/// A fault on a watch operation (e.g. <c>pods.watch</c>) applies when the watch request arrives.
/// </summary>
public sealed record Fault
{
    private Fault(FaultKind kind) => Kind = kind;

    public FaultKind Kind { get; }

    /// <summary>For <see cref="FaultKind.Status"/>.</summary>
    public int Code { get; private init; }

    /// <summary>For <see cref="FaultKind.Status"/>; null means the reason the real API uses for <see cref="Code"/>.</summary>
    public string? Reason { get; private init; }

    /// <summary>For <see cref="FaultKind.Delay"/>: real time, since a test's FakeTimeProvider would never let it end.</summary>
    public TimeSpan Duration { get; private init; }

    /// <summary>Apply to the next N calls only, then clear; null means until <see cref="FakeKubernetesApi.ClearFaults"/>.</summary>
    public int? Times { get; init; }

    /// <summary>Answer a Status object with this code (429 also carries <c>Retry-After: 1</c>).</summary>
    public static Fault Status(int code, string? reason = null) => new(FaultKind.Status) { Code = code, Reason = reason };

    /// <summary>Wait, then answer normally.</summary>
    public static Fault Delay(TimeSpan duration) => new(FaultKind.Delay) { Duration = duration };

    /// <summary>Never answer; ends when the client gives up or the server stops.</summary>
    public static Fault Hang { get; } = new(FaultKind.Hang);

    /// <summary>Abort the connection without an answer.</summary>
    public static Fault Reset { get; } = new(FaultKind.Reset);

    /// <summary>
    /// Send the status line, the headers (with the full Content-Length) and the first half of the body,
    /// then abort the connection: the client fails while reading the body. A watch gets its 200 and
    /// half of a first event line.
    /// </summary>
    public static Fault ResetMidBody { get; } = new(FaultKind.ResetMidBody);

    /// <summary>Answer 200 with an empty body: for a watch, the server ending the stream at once, with no event.</summary>
    public static Fault EndAtOnce { get; } = new(FaultKind.EndAtOnce);
}

public enum FaultKind
{
    Status,
    Delay,
    Hang,
    Reset,
    ResetMidBody,
    EndAtOnce,
}

/// <summary>One request the fake Kubernetes API received. <see cref="Query"/> is as sent, with its leading '?'.</summary>
public sealed record RecordedRequest(string Method, string Path, string Query, string Operation, string? Body, DateTimeOffset At, string UserAgent = "");
