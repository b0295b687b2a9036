namespace QuayAdmission.CredentialProvider.Protocol;

/// <summary>A whole number of seconds as Go's time.Duration prints it (<c>2h3m4s</c>, <c>5m0s</c>, <c>0s</c>), which is what the kubelet parses.</summary>
public static class GoDuration
{
    public static string Format(TimeSpan duration)
    {
        var seconds = (long)Math.Max(0, Math.Floor(duration.TotalSeconds));
        var (hours, minutes, rest) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
        if (hours > 0)
            return $"{hours}h{minutes}m{rest}s";
        return minutes > 0 ? $"{minutes}m{rest}s" : $"{rest}s";
    }
}
