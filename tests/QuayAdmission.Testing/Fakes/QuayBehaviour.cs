namespace QuayAdmission.Tests.Fakes;

/// <summary>How <see cref="FakeQuay"/> answers the federation endpoint; settable at any time.</summary>
public sealed record QuayBehaviour
{
    private QuayBehaviour(QuayBehaviourKind kind) => Kind = kind;

    public QuayBehaviourKind Kind { get; }

    /// <summary>For <see cref="QuayBehaviourKind.Status"/>.</summary>
    public int Code { get; private init; }

    /// <summary>For <see cref="QuayBehaviourKind.Status"/>: sent as is, with a JSON content type.</summary>
    public string Body { get; private init; } = "";

    /// <summary>For <see cref="QuayBehaviourKind.Delay"/>: real time, since a test's FakeTimeProvider would never let it end.</summary>
    public TimeSpan Duration { get; private init; }

    /// <summary>Validate the presented token and issue a robot token, as Quay does.</summary>
    public static QuayBehaviour Normal { get; } = new(QuayBehaviourKind.Normal);

    /// <summary>Answer with this code and body without looking at the request, e.g. 500 <c>{"error":"internal"}</c>.</summary>
    public static QuayBehaviour Status(int code, string body) => new(QuayBehaviourKind.Status) { Code = code, Body = body };

    /// <summary>Wait, then behave normally.</summary>
    public static QuayBehaviour Delay(TimeSpan duration) => new(QuayBehaviourKind.Delay) { Duration = duration };

    /// <summary>Never answer; ends when the client gives up or the server stops.</summary>
    public static QuayBehaviour Never { get; } = new(QuayBehaviourKind.Never);

    /// <summary>200 with a body that is not JSON.</summary>
    public static QuayBehaviour Garbage { get; } = new(QuayBehaviourKind.Garbage);

    /// <summary>Validate normally, then issue a token without an <c>exp</c> claim.</summary>
    public static QuayBehaviour TokenWithoutExp { get; } = new(QuayBehaviourKind.TokenWithoutExp);

    /// <summary>Abort the connection without an answer.</summary>
    public static QuayBehaviour Reset { get; } = new(QuayBehaviourKind.Reset);

    /// <summary>A rate limit in front of Quay: 429 with <c>Retry-After</c> (whole seconds of <paramref name="retryAfter"/>).</summary>
    public static QuayBehaviour RateLimited(TimeSpan retryAfter) => new(QuayBehaviourKind.RateLimited) { Duration = retryAfter };
}

public enum QuayBehaviourKind
{
    Normal,
    Status,
    Delay,
    Never,
    Garbage,
    TokenWithoutExp,
    Reset,
    RateLimited,
}

/// <summary>
/// One call to the federation endpoint. Robot, Subject, Issuer and Audiences are what the caller
/// presented (read from its Kubernetes JWT without trusting it); null when it could not be read.
/// </summary>
public sealed record ExchangeRecord(
    string? Robot,
    string? Subject,
    string? Issuer,
    IReadOnlyList<string> Audiences,
    bool Succeeded,
    string? IssuedToken,
    int StatusCode,
    string? Error,
    DateTimeOffset At);
