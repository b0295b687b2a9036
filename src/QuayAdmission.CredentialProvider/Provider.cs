using System.Text.Json;
using Microsoft.Extensions.Options;
using QuayAdmission.CredentialProvider.Configuration;
using QuayAdmission.CredentialProvider.Credentials;
using QuayAdmission.CredentialProvider.Protocol;
using QuayAdmission.Quay;

namespace QuayAdmission.CredentialProvider;

public static class Provider
{
    private const string Name = "quay-credential-provider";

    public static async Task<int> RunAsync(string[] args, Stream stdin, Stream stdout, TextWriter stderr)
    {
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        try
        {
            var settings = ProviderSettings.Load(args);
            var request = CredentialProviderRequest.Read(stdin);
            using var clients = new QuayHttpClients(Options.Create(settings.Quay), new StderrLogger<QuayHttpClients>(stderr, Name));
            var response = await new PullCredentials(settings, new QuayFederationClient(clients), TimeProvider.System)
                .ResolveAsync(request, CancellationToken.None);
            await JsonSerializer.SerializeAsync(stdout, response, ProtocolJson.Default.CredentialProviderResponse);
            await stdout.FlushAsync();
            return 0;
        }
        catch (Exception e) when (e is CredentialProviderException or TokenExchangeException)
        {
            // Both carry messages written for a person and free of tokens.
            await stderr.WriteLineAsync(OneLine.Of($"{Name}: {e.Message}"));
            return 1;
        }
#pragma warning disable CA1031 // The kubelet must get one line and an exit code, whatever went wrong.
        catch (Exception e)
#pragma warning restore CA1031
        {
            // An unforeseen message might quote input that holds the token: the type names the fault well enough.
            await stderr.WriteLineAsync($"{Name}: internal error ({e.GetType().Name})");
            return 1;
        }
    }
}
