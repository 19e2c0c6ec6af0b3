package io.parley.transport;

import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import io.parley.chat.ChatException;
import io.parley.chat.ErrorCode;
import io.parley.protocol.ProtocolCodec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;

/**
 * A connection's HTTP requests, handed on one at a time, in order, and only while the client takes its
 * answers. Every route (the handshake guard, the API, the plain routes) sits behind it, so none of them
 * sees a second request before the first is answered, and answers leave in the order of the requests
 * (RFC 9112, 9.3.2), whichever route serves them.
 * <ul>
 *   <li><b>Pipelining.</b> A request that arrives while another is being answered waits here, and the
 *       connection stops reading until the queue is empty again: TCP then holds the client back. What
 *       one read already brought in is queued, up to {@value #MAX_QUEUED} requests; one more is answered
 *       in its turn with {@code 429 rate_limited} and {@code Connection: close}, and nothing after it
 *       is read.</li>
 *   <li><b>Outbound backlog.</b> A client that sends requests but does not read the answers would
 *       otherwise grow the server's memory by one answer per request (a history page is up to ~1.6 MB).
 *       While the answers it has not taken pass the outbound limit ({@code --outbound-buffer-bytes},
 *       the WebSocket one), no further request is answered or read; when they drain, both resume. A
 *       client over the limit for {@link ChatSocket#SLOW_GRACE_NANOS} is closed, as a slow WebSocket
 *       consumer is. So a connection holds at most the limit plus one answer.</li>
 *   <li><b>Unreadable requests.</b> A request the HTTP decoder could not read whole is answered, in its
 *       turn, with 431 (headers over the limit), 414 (request line over the limit) or 400, and the
 *       connection closes: the decoder dropped what it could not read (an {@code Origin}, an
 *       {@code Authorization}), so no route may act on the rest.</li>
 * </ul>
 * A request is answered when its route writes the last part of a final response; a 101 hands the
 * connection to the WebSocket, and this handler leaves the pipeline.
 *
 * <p>One per connection, on its event loop, right after the aggregator.
 */
final class RequestQueue extends ChannelDuplexHandler {

    private static final Logger log = LoggerFactory.getLogger(RequestQueue.class);
    /** Requests one read may bring in ahead of their turn; browsers do not pipeline, programs seldom past a few. */
    static final int MAX_QUEUED = 16;

    private final ProtocolCodec codec;
    private final long limit;
    private final ArrayDeque<FullHttpRequest> waiting = new ArrayDeque<>();
    private ChannelHandlerContext ctx;
    /** A request was handed on and its answer is not written yet. */
    private boolean answering;
    /** The connection's last answer, sent once the requests queued before it are answered; then it closes. */
    private FullHttpResponse last;
    /** A last answer is decided: nothing more is read or served. */
    private boolean ending;
    private boolean dispatching;
    private boolean upgraded;
    /** Closes the connection if its backlog stays over the limit; null while under it. */
    private ScheduledFuture<?> slow;

    RequestQueue(ProtocolCodec codec, long outboundLimit) {
        this.codec = codec;
        this.limit = outboundLimit;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof FullHttpRequest request)) {
            ctx.fireChannelRead(msg);
            return;
        }
        if (ending) {
            // The connection ends after the answer already decided on: nothing past it is served.
            request.release();
            return;
        }
        DecoderResult decoded = request.decoderResult();
        if (decoded.isFailure()) {
            ending = true;
            last = unreadable(request, decoded.cause());
            request.release();
        } else if (waiting.size() >= MAX_QUEUED) {
            ending = true;
            last = refusal(request, HttpResponseStatus.TOO_MANY_REQUESTS, new ChatException(ErrorCode.RATE_LIMITED,
                    "more than " + MAX_QUEUED + " requests sent ahead of their answers; the rest were not read: "
                            + "send them again on a new connection", 1_000));
            request.release();
        } else {
            waiting.add(request);
        }
        next();
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) throws Exception {
        if (msg instanceof HttpResponse response && response.status().code() == HttpResponseStatus.SWITCHING_PROTOCOLS.code()) {
            ctx.write(msg, promise);
            upgraded();
            return;
        }
        boolean answered = answering && msg instanceof LastHttpContent
                && !(msg instanceof HttpResponse response && response.status().codeClass() == HttpStatusClass.INFORMATIONAL);
        if (answered) {
            // When this answer has left, the client has taken every answer so far: the backlog is gone.
            promise = promise.unvoid();
            promise.addListener(sent -> next());
        }
        ctx.write(msg, promise);
        if (answered) {
            answering = false;
            next();
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) throws Exception {
        next();
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        discard();
        ctx.fireChannelInactive();
    }

    /**
     * Hands on the next request if none is being answered and the client keeps up, and reads from the
     * client only while nothing waits. Re-entered from {@link #write} when a route answers at once; the
     * outer call's loop then goes on.
     */
    private void next() {
        if (dispatching || upgraded || !ctx.channel().isActive()) {
            return;
        }
        dispatching = true;
        try {
            while (!answering && !upgraded) {
                if (backlog() > limit) {
                    overLimit();
                    return;
                }
                underLimit();
                FullHttpRequest request = waiting.poll();
                if (request == null) {
                    if (last != null) {
                        FullHttpResponse answer = last;
                        last = null;
                        Responses.sendAndClose(ctx, answer);
                    }
                    break;
                }
                // The route owns the request from here (and releases it).
                answering = true;
                ctx.fireChannelRead(request);
            }
        } finally {
            dispatching = false;
        }
        if (!upgraded) {
            reading(!ending && waiting.isEmpty());
        }
    }

    private void reading(boolean on) {
        if (ctx.channel().config().isAutoRead() != on) {
            ctx.channel().config().setAutoRead(on);
        }
    }

    private long backlog() {
        ChannelOutboundBuffer unsent = ctx.channel().unsafe().outboundBuffer();
        return unsent == null ? 0 : unsent.totalPendingWriteBytes();
    }

    private void overLimit() {
        reading(false);
        if (slow == null) {
            slow = ctx.executor().schedule(this::stillOverLimit, ChatSocket.SLOW_GRACE_NANOS, TimeUnit.NANOSECONDS);
        }
    }

    private void underLimit() {
        if (slow != null) {
            slow.cancel(false);
            slow = null;
        }
    }

    private void stillOverLimit() {
        slow = null;
        long unsent = backlog();
        if (unsent > limit) {
            log.info("closing slow HTTP client {}: {} bytes unsent", Admission.clientOf(ctx.channel()), unsent);
            ctx.close();
        } else {
            next();
        }
    }

    /** The connection is a WebSocket now: what was queued behind the handshake was never HTTP. */
    private void upgraded() {
        upgraded = true;
        discard();
        reading(true);
        ctx.pipeline().remove(this);
    }

    private void discard() {
        underLimit();
        waiting.forEach(FullHttpRequest::release);
        waiting.clear();
        ReferenceCountUtil.release(last);
        last = null;
    }

    private FullHttpResponse unreadable(FullHttpRequest request, Throwable cause) {
        if (cause instanceof TooLongHttpHeaderException) {
            return refusal(request, HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, new ChatException(
                    ErrorCode.TOO_LARGE, "the request's headers are larger than the server reads"));
        }
        if (cause instanceof TooLongHttpLineException) {
            return refusal(request, HttpResponseStatus.REQUEST_URI_TOO_LONG, new ChatException(
                    ErrorCode.TOO_LARGE, "the request line is longer than the server reads"));
        }
        return refusal(request, HttpResponseStatus.BAD_REQUEST,
                new ChatException(ErrorCode.BAD_REQUEST, "malformed HTTP request"));
    }

    /** The API's JSON error under /api, where clients expect one; plain text elsewhere. */
    private FullHttpResponse refusal(FullHttpRequest request, HttpResponseStatus status, ChatException e) {
        FullHttpResponse r = request.uri().startsWith(ApiRoutes.PREFIX)
                ? ApiRoutes.json(status, codec.error(e, null, null, null, null))
                : Responses.text(status, e.getMessage());
        if (e.retryAfterMillis() > 0) {
            r.headers().set("Retry-After", Long.toString((e.retryAfterMillis() + 999) / 1000));
        }
        return r;
    }
}
