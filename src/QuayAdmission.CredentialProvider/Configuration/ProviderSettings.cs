using System.Text.Json;
using Microsoft.Extensions.Configuration;
using QuayAdmission.Quay;

namespace QuayAdmission.CredentialProvider.Configuration;

/// <summary>
/// The webhook's own settings, section <c>QuayAdmission</c>: from the JSON file given with <c>--config</c>
/// (the kubelet's <c>args</c>) and from <c>QuayAdmission__...</c> environment variables (its <c>env</c>),
/// so one ConfigMap's content serves the webhook and the nodes.
/// </summary>
public sealed class ProviderSettings
{
    private ProviderSettings(QuayOptions quay, ProviderOptions provider)
    {
        Quay = quay;
        Provider = provider;
    }

    public QuayOptions Quay { get; }

    public ProviderOptions Provider { get; }

    public static ProviderSettings Load(IReadOnlyList<string> args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var builder = new ConfigurationBuilder();
        if (ConfigPath(args) is { } path)
            builder.AddJsonStream(OpenConfig(path));
        builder.AddEnvironmentVariables();

        var section = builder.Build().GetSection(QuayOptions.Section);
        var quay = new QuayOptions();
        var provider = new ProviderOptions();
        try
        {
            section.Bind(quay);
            section.Bind(provider);
        }
        catch (InvalidOperationException e)
        {
            throw new CredentialProviderException($"configuration: {e.Message}");
        }
        catch (FormatException e)
        {
            throw new CredentialProviderException($"configuration: {e.Message}");
        }

        var problems = QuayOptionsValidator.Problems(quay).Concat(provider.Problems()).ToList();
        return problems.Count == 0
            ? new ProviderSettings(quay, provider)
            : throw new CredentialProviderException($"configuration: {string.Join("; ", problems)}");
    }

    private static string? ConfigPath(IReadOnlyList<string> args)
    {
        string? path = null;
        for (var i = 0; i < args.Count; i++)
        {
            if (args[i] == "--config" && i + 1 < args.Count)
                path = args[++i];
            else if (args[i].StartsWith("--config=", StringComparison.Ordinal))
                path = args[i]["--config=".Length..];
            else
                throw new CredentialProviderException($"unknown argument {OneLine.Quote(args[i])} (usage: quay-credential-provider [--config <file.json>])");
        }
        return path;
    }

    private static MemoryStream OpenConfig(string path)
    {
        try
        {
            var bytes = File.ReadAllBytes(path);
            // Checked here so a broken file is named, not reported as a parser's stack of inner exceptions.
            using (JsonDocument.Parse(bytes, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true }))
            {
            }
            return new MemoryStream(bytes);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CredentialProviderException($"--config {OneLine.Quote(path)} cannot be read: {e.Message}");
        }
        catch (JsonException e)
        {
            throw new CredentialProviderException($"--config {OneLine.Quote(path)} is not JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1})");
        }
    }
}
