package io.parley.transport;

import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;

import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.concurrent.TimeUnit;

/**
 * Whether a connection gets in, and how long it may take to say what it wants.
 * <ul>
 *   <li><b>Connection limits.</b> A connection takes a slot of {@link ConnectionCounts} when it opens.
 *       One that finds the server full (503) or its address at its limit (429) is answered so on its
 *       first request and closed, so a client sees why rather than a reset.</li>
 *   <li><b>Request deadline.</b> A whole HTTP request (headers and body, the WebSocket handshake
 *       included) must arrive within the handshake timeout of the connection opening or of the last
 *       response. A slow-loris client that trickles a byte at a time is closed (with 408 if it got as
 *       far as a request line) instead of holding a slot: an idle timer would not catch it, since it
 *       is never idle. Once the connection is upgraded, the deadline is gone and the WebSocket
 *       keep-alive takes over.</li>
 * </ul>
 * It also counts HTTP requests for /metrics.
 *
 * <p>One per connection, on its event loop, right after the HTTP codec.
 */
final class Admission extends ChannelDuplexHandler {

    private final ConnectionCounts counts;
    private final ServerMetrics metrics;
    private final long deadlineNanos;
    private HttpResponseStatus refusal;
    private ScheduledFuture<?> deadline;
    /** A request line has arrived and its last content not yet. */
    private boolean midRequest;

    Admission(ConnectionCounts counts, ServerMetrics metrics, long deadlineNanos) {
        this.counts = counts;
        this.metrics = metrics;
        this.deadlineNanos = deadlineNanos;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        SocketAddress remote = ctx.channel().remoteAddress();
        if (remote instanceof InetSocketAddress address) {
            refusal = counts.tryAcquire(address.getAddress());
            if (refusal == null) {
                // On the channel, not in channelInactive: this handler leaves the pipeline at the upgrade,
                // and the slot must be given back whenever the connection ends.
                ctx.channel().closeFuture().addListener(f -> counts.release(address.getAddress()));
            }
        }
        arm(ctx);
        super.channelActive(ctx);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        disarm();
        super.channelInactive(ctx);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
        if (refusal != null) {
            if (msg instanceof HttpRequest) {
                refuse(ctx);
            }
            ReferenceCountUtil.release(msg);
            return;
        }
        if (msg instanceof HttpRequest) {
            metrics.httpRequest();
            midRequest = true;
        }
        if (msg instanceof LastHttpContent) {
            midRequest = false;
            disarm();
        }
        super.channelRead(ctx, msg);
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) throws Exception {
        boolean upgraded = msg instanceof HttpResponse response
                && response.status().code() == HttpResponseStatus.SWITCHING_PROTOCOLS.code();
        if (!upgraded && msg instanceof HttpResponse response && HttpUtil.isKeepAlive(response)) {
            // Say how long an idle connection is kept, so that a client does not send its next
            // request into one the server is about to close.
            response.headers().set("Keep-Alive", "timeout=" + Math.max(1, TimeUnit.NANOSECONDS.toSeconds(deadlineNanos) - 1));
        }
        if (!upgraded && msg instanceof LastHttpContent) {
            // A response ended: the next request has the same time to arrive.
            arm(ctx);
        }
        super.write(ctx, msg, promise);
        if (upgraded) {
            // From now on the WebSocket keep-alive judges this connection.
            disarm();
            ctx.pipeline().remove(this);
        }
    }

    private void refuse(ChannelHandlerContext ctx) {
        String why = refusal == HttpResponseStatus.TOO_MANY_REQUESTS
                ? "Too many connections from your address (at most " + counts.maxPerAddress() + ")."
                : "The server is at its connection limit (" + counts.max() + "); retry later.";
        FullHttpResponse r = Responses.text(refusal, why);
        r.headers().set("Retry-After", "5");
        Responses.sendAndClose(ctx, r);
    }

    private void arm(ChannelHandlerContext ctx) {
        disarm();
        deadline = ctx.executor().schedule(() -> expired(ctx), deadlineNanos, TimeUnit.NANOSECONDS);
    }

    private void disarm() {
        if (deadline != null) {
            deadline.cancel(false);
            deadline = null;
        }
    }

    private void expired(ChannelHandlerContext ctx) {
        deadline = null;
        if (midRequest) {
            Responses.sendAndClose(ctx, Responses.text(HttpResponseStatus.REQUEST_TIMEOUT,
                    "The request took too long to arrive."));
        } else {
            ctx.close();
        }
    }
}
