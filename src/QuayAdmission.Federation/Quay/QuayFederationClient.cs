using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace QuayAdmission.Quay;

/// <summary>Quay's robot federation: a Kubernetes JWT in, a one-hour robot token out.</summary>
public sealed partial class QuayFederationClient(QuayHttpClients clients)
{
    // Quay's error text goes into warnings and events; a bounded slice of it is enough to act on.
    private const int MaxErrorText = 200;

    public async Task<QuayToken> ExchangeAsync(RegistryOptions registry, string robot, string serviceAccountJwt, CancellationToken ct)
    {
        var client = clients.For(registry);
        using var request = new HttpRequestMessage(HttpMethod.Get, registry.TokenEndpoint);
        var credential = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{robot}:{serviceAccountJwt}"));
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", credential);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));

        HttpResponseMessage response;
        try
        {
            response = await client.SendAsync(request, ct);
        }
        catch (HttpRequestException e) when (e.HttpRequestError == HttpRequestError.ConfigurationLimitExceeded)
        {
            throw new TokenExchangeException($"Quay {registry.Host} answered more than {QuayHttpClients.MaxResponseBytes} bytes");
        }
        catch (HttpRequestException e)
        {
            throw new TokenExchangeException($"Quay {registry.Host} unreachable: {e.HttpRequestError}");
        }
        catch (TaskCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new TokenExchangeException($"Quay {registry.Host} did not answer in time");
        }

        using (response)
        {
            var body = await response.Content.ReadAsStringAsync(ct);
            if (!response.IsSuccessStatusCode)
            {
                var code = (int)response.StatusCode;
                // 429 is a rate limit (a proxy in front of Quay, or Quay's own): not a refusal of these credentials.
                throw new TokenExchangeException($"Quay answered {code}: {ErrorText(body, credential, serviceAccountJwt)}",
                    refused: code is >= 400 and < 500 and not 429, RetryAfter(response));
            }
            return QuayToken.FromJwt(TokenFrom(body));
        }
    }

    /// <summary>
    /// The wait a 429 or 503 asks for: seconds, or a date read against the answer's own Date (both
    /// the server's clock, so no clock of ours is compared with it). Absent, or in the past: none.
    /// </summary>
    private static TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        var wait = response.Headers.RetryAfter switch
        {
            { Delta: { } delta } => delta,
            { Date: { } date } when response.Headers.Date is { } sent => date - sent,
            _ => (TimeSpan?)null,
        };
        return wait > TimeSpan.Zero ? wait : null;
    }

    private static string TokenFrom(string body)
    {
        try
        {
            using var json = JsonDocument.Parse(body);
            if (json.RootElement.ValueKind == JsonValueKind.Object
                && json.RootElement.TryGetProperty("token", out var token)
                && token.ValueKind == JsonValueKind.String
                && token.GetString() is { Length: > 0 } text)
                return text;
        }
        catch (JsonException)
        {
        }
        throw new TokenExchangeException("Quay answered 200 without a token");
    }

    /// <summary>
    /// Quay's <c>error</c> (or <c>error_description</c>) field, else the body, one line and bounded,
    /// without anything that looks like a credential: should an error page echo what we sent, it stops here.
    /// </summary>
    private static string ErrorText(string body, params string[] sent)
    {
        var text = body;
        try
        {
            using var json = JsonDocument.Parse(body);
            if (json.RootElement.ValueKind == JsonValueKind.Object)
            {
                foreach (var field in new[] { "error_description", "error", "message" })
                {
                    if (json.RootElement.TryGetProperty(field, out var value) && value.ValueKind == JsonValueKind.String)
                    {
                        text = value.GetString()!;
                        break;
                    }
                }
            }
        }
        catch (JsonException)
        {
        }
        foreach (var secret in sent)
            text = text.Replace(secret, "[redacted]", StringComparison.Ordinal);
        text = new string(text.Select(c => char.IsControl(c) || char.GetUnicodeCategory(c) == System.Globalization.UnicodeCategory.Format ? ' ' : c).ToArray());
        text = LongBase64().Replace(JwtLike().Replace(text, "[redacted]"), "[redacted]").Trim();
        if (text.Length == 0)
            return "(no detail)";
        return text.Length <= MaxErrorText ? text : text[..MaxErrorText] + "...";
    }

    // Should an error page ever echo a credential, it must not travel on into warnings and events.
    [GeneratedRegex(@"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*", RegexOptions.CultureInvariant)]
    private static partial Regex JwtLike();

    // No readable error message has a 40-character run of base64; credentials do.
    [GeneratedRegex("[A-Za-z0-9+/_-]{40,}={0,2}", RegexOptions.CultureInvariant)]
    private static partial Regex LongBase64();
}
