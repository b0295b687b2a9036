using Microsoft.Extensions.Logging;

namespace QuayAdmission.CredentialProvider;

/// <summary>The shared library's warnings (an insecure registry) as lines on stderr, where the kubelet logs a plugin's output.</summary>
public sealed class StderrLogger<T>(TextWriter stderr, string name) : ILogger<T>
{
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        ArgumentNullException.ThrowIfNull(formatter);
        if (IsEnabled(logLevel))
            stderr.WriteLine(OneLine.Of($"{name}: {logLevel.ToString().ToLowerInvariant()}: {formatter(state, exception)}"));
    }
}
