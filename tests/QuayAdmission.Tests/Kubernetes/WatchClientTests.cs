using Microsoft.AspNetCore.Http;
using QuayAdmission.Kubernetes;
using QuayAdmission.Kubernetes.Watching;
using QuayAdmission.Tests.Fakes;

namespace QuayAdmission.Tests.Kubernetes;

public sealed class WatchClientTests
{
    private const int Sent = 64 * 1024 * 1024;

    [Fact]
    public async Task An_event_line_longer_than_any_object_is_a_fault_and_is_not_read_whole()
    {
        long written = 0;
        await using var server = await LoopbackServer.StartAsync(async context =>
        {
            context.Response.ContentType = "application/json";
            var chunk = new byte[64 * 1024];
            Array.Fill(chunk, (byte)'a');
            try
            {
                while (written < Sent)
                {
                    await context.Response.Body.WriteAsync(chunk, context.RequestAborted);
                    await context.Response.Body.FlushAsync(context.RequestAborted);
                    written += chunk.Length;
                }
            }
            catch (Exception e) when (e is OperationCanceledException or IOException)
            {
                // The client hung up.
            }
        }, certificate: null, CancellationToken.None);
        var counting = new ReadCounting();
        using var api = new KubernetesApi(new k8s.KubernetesClientConfiguration { Host = server.BaseAddress.ToString() }, counting);

        var refused = await Assert.ThrowsAsync<WatchFailedException>(() =>
            new WatchClient(api).ReadAsync("api/v1/secrets?watch=true", _ => Assert.Fail("no event in an endless line"), CancellationToken.None));

        Assert.Contains("larger than", refused.Message, StringComparison.Ordinal);
        // Read up to the cap and a buffer more, never the whole line.
        Assert.InRange(counting.Read, WatchClient.MaxEventBytes, WatchClient.MaxEventBytes + (1024 * 1024));
    }

    /// <summary>Counts the response body bytes the client reads.</summary>
    private sealed class ReadCounting : DelegatingHandler
    {
        private long read;

        public long Read => Interlocked.Read(ref read);

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = await base.SendAsync(request, cancellationToken);
            var body = await response.Content.ReadAsStreamAsync(cancellationToken);
            var counted = new StreamContent(new CountingReads(body, n => Interlocked.Add(ref read, n)));
            foreach (var header in response.Content.Headers)
                counted.Headers.TryAddWithoutValidation(header.Key, header.Value);
            response.Content = counted;
            return response;
        }
    }

    private sealed class CountingReads(Stream inner, Action<int> onRead) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Counted(inner.Read(buffer, offset, count));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            Counted(await inner.ReadAsync(buffer, cancellationToken));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
                inner.Dispose();
            base.Dispose(disposing);
        }

        private int Counted(int read)
        {
            onRead(read);
            return read;
        }
    }

    [Fact]
    public async Task Events_are_counted_and_a_cut_off_last_event_is_left_for_the_next_watch()
    {
        await using var server = await LoopbackServer.StartAsync(async context =>
        {
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync("""{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"7"}}}""" + "\n\n");
            await context.Response.WriteAsync("""{"type":"ADDED","object":{"metadata":{"resourceVersion":"8"}}}""" + "\n");
            await context.Response.WriteAsync("""{"type":"ADDED","obj""");
        }, certificate: null, CancellationToken.None);
        using var api = new KubernetesApi(new k8s.KubernetesClientConfiguration { Host = server.BaseAddress.ToString() });
        var versions = new List<string?>();

        var events = await new WatchClient(api).ReadAsync("api/v1/secrets?watch=true", line => versions.Add(line.ResourceVersion), CancellationToken.None);

        Assert.Equal(2, events);
        Assert.Equal(["7", "8"], versions);
    }
}
