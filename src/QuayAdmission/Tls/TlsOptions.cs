using Microsoft.Extensions.Options;

namespace QuayAdmission.Tls;

public sealed class TlsOptions
{
    public const string Section = "QuayAdmission:Tls";

    /// <summary>PEM certificate (chain); with <see cref="KeyFile"/>.</summary>
    public string? CertFile { get; set; }

    public string? KeyFile { get; set; }

    /// <summary>
    /// Without files, serve a self-signed certificate made at start and report ready. Only for a
    /// local run: in a cluster the API server cannot trust it, so without this a missing
    /// certificate keeps <c>/readyz</c> at 503 instead of hiding behind <c>failurePolicy: Ignore</c>.
    /// </summary>
    public bool AllowSelfSigned { get; set; }

    /// <summary>PEM CA certificate(s): when set, every client of the HTTPS listener must present a certificate issued by them.</summary>
    public string? ClientCaFile { get; set; }

    /// <summary>How often the files are compared with what is loaded; a Secret volume update lands within a minute or so anyway.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(10);

    public bool FromFiles => !string.IsNullOrEmpty(CertFile) || !string.IsNullOrEmpty(KeyFile);
}

internal sealed class TlsOptionsValidator : IValidateOptions<TlsOptions>
{
    public ValidateOptionsResult Validate(string? name, TlsOptions options)
    {
        if (options.FromFiles && (string.IsNullOrEmpty(options.CertFile) || string.IsNullOrEmpty(options.KeyFile)))
            return ValidateOptionsResult.Fail("QuayAdmission:Tls needs both CertFile and KeyFile, or neither");
        if (options.PollInterval <= TimeSpan.Zero)
            return ValidateOptionsResult.Fail("QuayAdmission:Tls:PollInterval must be positive");
        return ValidateOptionsResult.Success;
    }
}
