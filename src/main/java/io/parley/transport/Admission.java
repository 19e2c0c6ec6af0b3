package io.parley.transport;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.AttributeKey;
import io.netty.util.NetUtil;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import io.parley.config.Networks;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Whether a connection gets in, and how long it may take to say what it wants.
 * <ul>
 *   <li><b>Connection limits</b> are counted and enforced at accept, by {@link AcceptGate}: a
 *       connection that gets here holds its slots.</li>
 *   <li><b>Behind a trusted proxy</b> every client arrives from the proxy's address, so a connection
 *       from one takes only its total slot at accept. When a request on it asks for a WebSocket,
 *       the client's address is read from {@code X-Forwarded-For} and that address's slot is taken
 *       then (429 if it has too many), until the connection closes. Plain HTTP requests through a
 *       proxy share the proxy's pooled connections and are held back by the request and send rates
 *       instead.</li>
 *   <li><b>Request deadline.</b> A whole HTTP request (headers and body, the WebSocket handshake
 *       included) must arrive within the handshake timeout of the connection opening or of the last
 *       answer having left (while requests wait for their answers, the clock stops). A slow-loris
 *       client that trickles a byte at a time is closed instead of holding a slot: with 408 if any
 *       byte of a request has arrived (an {@link Arrivals} handler before the codec notices those), silently if
 *       nothing has. An idle timer would not catch it, since it is never idle. Once the connection is
 *       upgraded, the deadline is gone and the WebSocket keep-alive takes over.</li>
 * </ul>
 * It also counts HTTP requests for /metrics.
 *
 * <p>One per connection, on its event loop, right after the HTTP codec (its {@link #arrivals()} right
 * before it).
 */
final class Admission extends ChannelDuplexHandler {

    static final String X_FORWARDED_FOR = "X-Forwarded-For";
    /** Set on a WebSocket connection through a trusted proxy: the client behind it, for logs. */
    static final AttributeKey<InetAddress> CLIENT = AttributeKey.valueOf("parley.client");

    private final ConnectionCounts counts;
    private final ServerMetrics metrics;
    private final long deadlineNanos;
    private final Networks proxies;
    /** The peer, when it is a trusted proxy; null otherwise. */
    private InetAddress proxy;
    private HttpResponseStatus refusal;
    private ScheduledFuture<?> deadline;
    /** A request's headers have arrived and its last content not yet. */
    private boolean midRequest;
    /**
     * Bytes arrived since the last whole request: the next one has begun, if only by a byte. Bytes that
     * came in the same read as the end of the request before are not noticed (the codec keeps them
     * unseen), so such a request, if it stalls, is closed without the 408.
     */
    private boolean begun;
    /** Requests that arrived whole and are not answered yet; the deadline waits for their answers. */
    private int unanswered;
    private final Arrivals arrivals = new Arrivals();

    Admission(ConnectionCounts counts, ServerMetrics metrics, long deadlineNanos, Networks proxies) {
        this.counts = counts;
        this.metrics = metrics;
        this.deadlineNanos = deadlineNanos;
        this.proxies = proxies;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        // AcceptGate has taken this connection's slots already; from a proxy, only its total one.
        SocketAddress remote = ctx.channel().remoteAddress();
        if (remote instanceof InetSocketAddress address && proxies.contains(address.getAddress())) {
            proxy = address.getAddress();
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
        if (msg instanceof HttpRequest request) {
            metrics.httpRequest();
            midRequest = true;
            if (request.decoderResult().isFailure()) {
                // The codec gives up on it and drops what follows: it is as whole as it will get.
                requestEnded();
            }
            // CLIENT is set once the client behind the proxy holds its address slot.
            if (proxy != null && ctx.channel().attr(CLIENT).get() == null && isWebSocket(request)) {
                InetAddress behind = clientBehind(proxy, request.headers(), proxies);
                refusal = counts.tryAddress(behind);
                if (refusal != null) {
                    refuse(ctx);
                    ReferenceCountUtil.release(msg);
                    return;
                }
                ctx.channel().attr(CLIENT).set(behind);
                ctx.channel().closeFuture().addListener(f -> counts.releaseAddress(behind));
            }
        }
        if (msg instanceof LastHttpContent && midRequest) {
            requestEnded();
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
        boolean informational = msg instanceof HttpResponse response
                && response.status().codeClass() == HttpStatusClass.INFORMATIONAL;
        if (!informational && msg instanceof LastHttpContent) {
            unanswered = Math.max(0, unanswered - 1);
            if (unanswered == 0) {
                // Once the last answer has left, the next request has the same time to arrive. Not
                // before: the time a client takes to download an answer is not time spent sending.
                promise = promise.unvoid();
                promise.addListener(sent -> {
                    if (unanswered == 0 && !ctx.isRemoved()) {
                        arm(ctx);
                    }
                });
            }
        }
        super.write(ctx, msg, promise);
        if (upgraded) {
            // From now on the WebSocket keep-alive judges this connection.
            disarm();
            ctx.pipeline().remove(arrivals);
            ctx.pipeline().remove(this);
        }
    }

    /**
     * Goes before the HTTP codec, which says nothing until a request's headers are complete, to tell
     * this handler that a request has begun to arrive.
     */
    ChannelInboundHandlerAdapter arrivals() {
        return arrivals;
    }

    private final class Arrivals extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
            if (msg instanceof ByteBuf bytes && bytes.isReadable()) {
                begun = true;
            }
            super.channelRead(ctx, msg);
        }
    }

    private void requestEnded() {
        midRequest = false;
        begun = false;
        unanswered++;
        // The server's own time to answer does not count against the client.
        disarm();
    }

    /**
     * The client a trusted proxy forwards for: the right-most {@code X-Forwarded-For} address that is
     * not itself a trusted proxy. Each proxy appends the address it was reached from, so entries to the
     * left of the first untrusted one were written by the client and may be made up. An entry may carry
     * a port. Without the header, or with an entry that is not an IP address, the proxy itself is the
     * client.
     */
    static InetAddress clientBehind(InetAddress proxy, HttpHeaders headers, Networks proxies) {
        List<String> hops = new ArrayList<>();
        for (String value : headers.getAll(X_FORWARDED_FOR)) {
            for (String hop : value.split(",")) {
                hops.add(hop.trim());
            }
        }
        InetAddress client = proxy;
        for (int i = hops.size() - 1; i >= 0; i--) {
            InetAddress hop = NetUtil.createInetAddressFromIpAddressString(withoutPort(hops.get(i)));
            if (hop == null) {
                return proxy;
            }
            client = hop;
            if (!proxies.contains(hop)) {
                break;
            }
        }
        return client;
    }

    /** Who a request is from: its peer, or, from a trusted proxy, the client the proxy names. */
    static InetAddress client(InetAddress peer, HttpHeaders headers, Networks proxies) {
        return proxies.contains(peer) ? clientBehind(peer, headers, proxies) : peer;
    }

    /** Some proxies write the client's port too: {@code 203.0.113.5:4711}, {@code [2001:db8::5]:4711}. */
    static String withoutPort(String hop) {
        if (hop.startsWith("[")) {
            int end = hop.indexOf(']');
            return end < 0 ? hop : hop.substring(1, end);
        }
        int colon = hop.indexOf(':');
        return colon >= 0 && colon == hop.lastIndexOf(':') ? hop.substring(0, colon) : hop;
    }

    /** Who a connection is from: the client behind a trusted proxy, else the peer; null if not IP. */
    static InetAddress clientAddress(Channel channel) {
        InetAddress client = channel.attr(CLIENT).get();
        if (client != null) {
            return client;
        }
        return channel.remoteAddress() instanceof InetSocketAddress peer ? peer.getAddress() : null;
    }

    /** Who a connection is from, for logs: the client behind a trusted proxy, else the peer. */
    static Object clientOf(Channel channel) {
        InetAddress client = channel.attr(CLIENT).get();
        return client != null ? client.getHostAddress() + " (via " + channel.remoteAddress() + ")" : channel.remoteAddress();
    }

    private static boolean isWebSocket(HttpRequest request) {
        return HttpHeaderValues.WEBSOCKET.contentEqualsIgnoreCase(request.headers().get(HttpHeaderNames.UPGRADE));
    }

    private void refuse(ChannelHandlerContext ctx) {
        String why = refusal == HttpResponseStatus.TOO_MANY_REQUESTS
                ? AcceptGate.tooManyFromAddress(counts) : AcceptGate.full(counts);
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
        if (midRequest || begun) {
            Responses.sendAndClose(ctx, Responses.text(HttpResponseStatus.REQUEST_TIMEOUT,
                    "The request took too long to arrive."));
        } else {
            ctx.close();
        }
    }
}
