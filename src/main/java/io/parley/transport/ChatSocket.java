package io.parley.transport;

import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.group.ChannelGroup;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CorruptedWebSocketFrameException;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PongWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketServerProtocolHandler;
import io.netty.handler.timeout.IdleState;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import io.parley.auth.Identity;
import io.parley.chat.ChatException;
import io.parley.chat.ChatSession;
import io.parley.chat.ErrorCode;
import io.parley.chat.RoomRequests;
import io.parley.chat.ReadControl;
import io.parley.config.ServerConfig;
import io.parley.engine.Broker;
import io.parley.engine.Subscriber;
import io.parley.protocol.ProtocolCodec;
import io.parley.protocol.ProtocolHandler;
import io.parley.protocol.TokenRenewal;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The last handler of a chat connection: text frames in, encoded frames out.
 *
 * <p>In: once the upgrade completes it drops the HTTP handlers, starts the keep-alive clock and opens a
 * {@link ProtocolHandler}; each text frame (reassembled by the aggregator before it) goes there. A
 * binary frame closes with 1003, a message over the size limit with 1009; Netty's codec before it has
 * already closed with 1002 or 1007 for protocol violations and invalid UTF-8. Pings and pongs count
 * against the connection's frame rate like text frames; one over it closes the connection with 1008,
 * since a control frame cannot be answered with {@code rate_limited}. Pings are answered here (not by
 * Netty, see {@link WebSocketProtocol}), so that pongs count in the backlog below.
 *
 * <p>Out: it is the connection's {@link Subscriber}. {@link #deliver} writes the broadcast as framed
 * once per event loop by {@link SharedFrames} (compressed once per loop too, for a connection that
 * negotiated permessage-deflate), without flushing; {@link #flush} ends a burst and
 * schedules one flush after the work already queued on the loop, so that bursts queued together leave
 * in one socket write. A client whose backlog (what it has not taken after a flush) stays over the
 * configured limit for 5 s, or passes four times it, is a slow consumer: it is closed with 1013 rather
 * than allowed to grow the server's memory or hold anyone else back. Pongs count in that backlog too:
 * a client that pings and never reads is closed the same way, before its hello as after.
 *
 * <p>Threads: everything here runs on the connection's event loop.
 */
final class ChatSocket extends SimpleChannelInboundHandler<WebSocketFrame>
        implements Subscriber, ReadControl, TokenRenewal {

    private static final Logger log = LoggerFactory.getLogger(ChatSocket.class);
    /** Any client can make itself a slow consumer, as often as it reconnects: a few lines a minute. */
    private static final ThrottledLog slowConsumers = new ThrottledLog(log, "slow consumers closed", 10);
    private static final AtomicLong SESSIONS = new AtomicLong();
    /** How long a client may stay over its outbound limit before it counts as a slow consumer. */
    static final long SLOW_GRACE_NANOS = TimeUnit.SECONDS.toNanos(5);
    /** How far over its outbound limit a client may go, however briefly. */
    static final int HARD_LIMIT_FACTOR = 4;

    private final ServerConfig config;
    private final Broker broker;
    private final ProtocolCodec codec;
    private final ChannelGroup sockets;
    private final RoomRequests requests;
    private final Authenticator authenticator;
    private final FatalErrors fatal;
    private ChannelHandlerContext ctx;
    private ProtocolHandler protocol;
    private boolean closing;
    /** The connection negotiated permessage-deflate: it gets broadcasts compressed. */
    private boolean deflate;
    /** Closes the connection when its token expires; null for a guest. */
    private ScheduledFuture<?> tokenExpiry;
    /** When the unsent bytes went over the limit (System.nanoTime), or 0 while under it. */
    private long overLimitSince;
    /** Bytes the client had not taken after the last flush: its backlog. */
    private long unsentAfterFlush;
    private boolean flushScheduled;
    private final Runnable flushNow = this::flushNow;
    /** Ping intervals the client has been silent for, counted by the keep-alive's idle events. */
    private long silentIntervals;

    ChatSocket(ServerConfig config, Broker broker, ProtocolCodec codec, ChannelGroup sockets,
               RoomRequests requests, Authenticator authenticator, FatalErrors fatal) {
        this.fatal = fatal;
        this.config = config;
        this.broker = broker;
        this.codec = codec;
        this.sockets = sockets;
        this.requests = requests;
        this.authenticator = authenticator;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
        if (evt instanceof WebSocketServerProtocolHandler.HandshakeComplete) {
            opened(ctx);
        } else if (evt instanceof IdleStateEvent && protocol == null) {
            // Plain HTTP, silent too long.
            ctx.close();
        } else if (evt instanceof IdleStateEvent idle && idle.state() == IdleState.READER_IDLE) {
            silentIntervals = idle.isFirst() ? 1 : silentIntervals + 1;
            if (silentIntervals * config.pingInterval().toMillis() >= config.idleTimeout().toMillis()) {
                close(WebSocketCloseStatus.ENDPOINT_UNAVAILABLE.code(), "idle timeout");
            } else {
                ctx.writeAndFlush(new PingWebSocketFrame());
            }
        } else {
            super.userEventTriggered(ctx, evt);
        }
    }

    private void opened(ChannelHandlerContext ctx) {
        var pipeline = ctx.pipeline();
        if (pipeline.get(ChatChannelInitializer.CORS) != null) {
            pipeline.remove(ChatChannelInitializer.CORS);
        }
        pipeline.remove(UpgradeGuard.class);
        pipeline.remove(AccountRoutes.class);
        pipeline.remove(ApiRoutes.class);
        pipeline.remove(HttpRoutes.class);
        // Netty's extension handler put the inflater in before the 101 went out, so it is there by now.
        deflate = pipeline.get(MessageInflater.class) != null;
        // The keep-alive sits near the socket, so that every byte read counts as activity, pongs
        // included (they reach no handler past this one once counted). It times
        // reads only: timing writes costs a promise and a listener on every frame sent (8% of the
        // server's samples in a fan-out profile). A client silent for a ping interval is pinged; one
        // silent for the idle timeout is closed.
        pipeline.replace("keep-alive", "keep-alive", new IdleStateHandler(
                config.pingInterval().toMillis(), 0, 0, TimeUnit.MILLISECONDS));
        String id = "s-" + Long.toString(SESSIONS.incrementAndGet(), 36);
        Identity identity = ctx.channel().attr(UpgradeGuard.IDENTITY).getAndSet(null);
        ChatSession session = new ChatSession(broker, requests, config, this, this, id, identity,
                Admission.clientAddress(ctx.channel()));
        if (identity != null && identity.validUntil() != null) {
            // A token proves who someone is until it expires; the connection it opened ends then too,
            // unless a refresh shows a fresh token first.
            expireAt(identity.validUntil());
        }
        protocol = new ProtocolHandler(codec, session, this, this, config);
        sockets.add(ctx.channel());
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, WebSocketFrame frame) {
        if (frame instanceof TextWebSocketFrame text) {
            if (protocol != null && !closing) {
                protocol.onText(text.text());
            }
        } else if (frame instanceof BinaryWebSocketFrame) {
            close(WebSocketCloseStatus.INVALID_MESSAGE_TYPE.code(), "binary frames are not supported; send JSON text");
        } else if (frame instanceof PingWebSocketFrame || frame instanceof PongWebSocketFrame) {
            controlFrame(frame);
        }
        // Close frames are Netty's (the closing handshake); nothing else reaches here.
    }

    /** A ping (answered with a pong carrying its payload) or a pong (dropped once counted). */
    private void controlFrame(WebSocketFrame frame) {
        if (protocol == null || closing) {
            return;
        }
        if (!protocol.onControlFrame()) {
            close(WebSocketCloseStatus.POLICY_VIOLATION.code(), "too many frames: at most "
                    + config.admission().requestsPerSecondPerConnection() + " a second, pings and pongs included");
            return;
        }
        if (frame instanceof PingWebSocketFrame) {
            // Measured now, not only after the next flush: one read loop decodes up to a megabyte of
            // pings, and each pong written here would wait for that flush unchecked. What this counts
            // besides the client's backlog (this loop's writes, not flushed yet) is small.
            measureUnsent();
            if (!closedAsSlow()) {
                ctx.write(new PongWebSocketFrame(frame.content().retain()), ctx.voidPromise());
                flush();
            }
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (fatal.check(cause)) {
            ctx.close();
        } else if (cause instanceof CorruptedWebSocketFrameException violation) {
            // A broken frame, bad UTF-8, a frame over the limit or a forbidden close code: RFC 6455
            // says to fail the connection with the code that names the problem.
            close(violation.closeStatus().code(), violation.closeStatus().reasonText());
        } else if (cause instanceof TooLongFrameException) {
            close(WebSocketCloseStatus.MESSAGE_TOO_BIG.code(), "message larger than " + config.maxFrameBytes() + " bytes");
        } else {
            log.debug("connection {} failed", Admission.clientOf(ctx.channel()), cause);
            ctx.close();
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        closing = true;
        if (tokenExpiry != null) {
            tokenExpiry.cancel(false);
        }
        if (protocol != null) {
            protocol.onClose();
        }
        super.channelInactive(ctx);
    }

    /** Sends a close frame with this code, then closes; Netty closes anyway if the client never answers. */
    void close(int code, String reason) {
        if (closing) {
            return;
        }
        closing = true;
        ctx.writeAndFlush(new CloseWebSocketFrame(code, reason)).addListener(ChannelFutureListener.CLOSE);
    }

    @Override
    public Identity verify(String token) {
        return switch (authenticator.verify(token)) {
            case Authenticator.User user -> user.identity();
            case Authenticator.Refused refused -> throw new ChatException(ErrorCode.UNAUTHORIZED, refused.reason());
            case Authenticator.Guest guest -> throw new IllegalStateException("a token verified as a guest");
        };
    }

    @Override
    public void expireAt(Instant validUntil) {
        if (tokenExpiry != null) {
            tokenExpiry.cancel(false);
        }
        long millis = Math.max(0, Duration.between(Instant.now(), validUntil).toMillis());
        tokenExpiry = ctx.executor().schedule(() -> close(WebSocketCloseStatus.POLICY_VIOLATION.code(),
                "token expired: reconnect with a fresh one"), millis, TimeUnit.MILLISECONDS);
    }

    @Override
    public void pauseReading() {
        ctx.channel().config().setAutoRead(false);
    }

    @Override
    public void resumeReading() {
        ctx.channel().config().setAutoRead(true);
    }

    @Override
    public Executor executor() {
        return ctx.executor();
    }

    @Override
    public void deliver(byte[] frame) {
        if (closing || !ctx.channel().isActive() || closedAsSlow()) {
            return;
        }
        ctx.write(SharedFrames.frame(ctx, frame, deflate), ctx.voidPromise());
    }

    @Override
    public void deliverAll(byte[][] frames) {
        if (closing || !ctx.channel().isActive() || closedAsSlow()) {
            return;
        }
        ctx.write(SharedFrames.frames(ctx, frames, deflate), ctx.voidPromise());
    }

    /** Closes the connection with 1013 if the client is a slow consumer; says whether it did. */
    private boolean closedAsSlow() {
        if (unsentAfterFlush > config.outboundBufferBytes() && slowConsumer()) {
            slowConsumers.info("closing slow consumer {}: {} bytes unsent", Admission.clientOf(ctx.channel()), unsentAfterFlush);
            close(WebSocketCloseStatus.TRY_AGAIN_LATER.code(), "slow consumer: reconnect and re-join with since");
            return true;
        }
        return false;
    }

    /**
     * Called while the client has more than its limit unsent. A healthy client may, for a moment, while
     * a large reply crosses a slow network; one that stays over it for {@link #SLOW_GRACE_NANOS}, or goes
     * far over it, is not keeping up.
     */
    private boolean slowConsumer() {
        if (unsentAfterFlush > HARD_LIMIT_FACTOR * config.outboundBufferBytes()) {
            return true;
        }
        long now = System.nanoTime();
        if (overLimitSince == 0) {
            overLimitSince = now;
            return false;
        }
        return now - overLimitSince > SLOW_GRACE_NANOS;
    }

    /**
     * Ends a burst of writes. The flush itself runs as a task of its own, after whatever work is already
     * queued on this event loop, so that bursts queued together leave in one socket write. It also
     * measures what the client has not taken yet: right after a flush every byte is handed to the
     * socket, so what is still unsent is the client's backlog, not ours.
     */
    @Override
    public void flush() {
        if (!closing && !flushScheduled) {
            flushScheduled = true;
            ctx.executor().execute(flushNow);
        }
    }

    private void flushNow() {
        flushScheduled = false;
        ctx.flush();
        measureUnsent();
    }

    private void measureUnsent() {
        ChannelOutboundBuffer unsent = ctx.channel().unsafe().outboundBuffer();
        unsentAfterFlush = unsent == null ? 0 : unsent.totalPendingWriteBytes();
        if (unsentAfterFlush <= config.outboundBufferBytes()) {
            overLimitSince = 0;
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) throws Exception {
        // The socket drained some of the backlog (or took more); refresh the measure.
        measureUnsent();
        super.channelWritabilityChanged(ctx);
    }
}
