package io.parley.transport;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelConfig;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import io.parley.config.Networks;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

/**
 * The listening socket's own handler: every accepted connection passes here before it is handed to
 * a worker loop, and so does every failed accept.
 * <ul>
 *   <li><b>Connection limits, at accept.</b> A connection takes its slot of {@link ConnectionCounts}
 *       here. One over the total (503) or over its address's limit (429, the reserve included) is
 *       closed at once, so a client that opens thousands of silent sockets holds no more descriptors
 *       than its limit: waiting for its request, as a handler on the connection would, let 3,000 silent
 *       sockets from one address hold 3,000 descriptors for the whole handshake timeout. Before the
 *       close it is sent a short plain-HTTP refusal, when the server speaks plain HTTP: one write into
 *       an empty socket buffer, which never waits on the client. A connection from a trusted proxy takes
 *       only its total slot here; its client's address slot is taken by {@link Admission} at the
 *       WebSocket request, once {@code X-Forwarded-For} says who the client is.</li>
 *   <li><b>Failed accepts back off.</b> When accept fails (EMFILE: out of descriptors) the connection
 *       stays in the kernel's backlog and the socket stays readable, so accepting again at once would
 *       spin. Accepting pauses instead, {@value #FIRST_PAUSE_MS} ms at first and twice as long each
 *       time up to {@value #LONGEST_PAUSE_MS} ms. Failed accepts are logged at most once every
 *       {@value #REPEAT_LOG_SECONDS} s (a WARN line with the count, no stack trace), and the end of a run
 *       of failures that was logged once (INFO). (Netty's acceptor would pause for a second too, but
 *       would log a stack trace for every failed accept.)</li>
 * </ul>
 *
 * <p>One per server, added with {@code ServerBootstrap.handler(...)}: it runs on the acceptor thread
 * only, so its fields need no locks. The refused connection is registered on that thread's loop for
 * its one write; it never reaches a worker loop.
 */
final class AcceptGate extends ChannelInboundHandlerAdapter {

    private static final Logger log = LoggerFactory.getLogger(AcceptGate.class);

    static final long FIRST_PAUSE_MS = 50;
    static final long LONGEST_PAUSE_MS = 1_000;
    static final long REPEAT_LOG_SECONDS = 60;

    private final ConnectionCounts counts;
    private final Networks proxies;
    /** The refusals as bytes on the wire; null on a TLS server, where plain text would be noise. */
    private final ByteBuf tooManyFromAddress;
    private final ByteBuf full;

    private long pauseMs = FIRST_PAUSE_MS;
    private ScheduledFuture<?> resume;
    /** Accepts failed since accepting last worked; 0 when it works. */
    private long failures;
    private long failingSinceNanos;
    /** When a line about failed accepts was last logged; 0: never. */
    private long lastLoggedNanos;
    /** Whether this run of failures was logged, so that its end is too. */
    private boolean episodeLogged;

    AcceptGate(ConnectionCounts counts, Networks proxies, boolean tls) {
        this.counts = counts;
        this.proxies = proxies;
        this.tooManyFromAddress = tls ? null : refusal(HttpResponseStatus.TOO_MANY_REQUESTS,
                tooManyFromAddress(counts));
        this.full = tls ? null : refusal(HttpResponseStatus.SERVICE_UNAVAILABLE, full(counts));
    }

    static String tooManyFromAddress(ConnectionCounts counts) {
        return "Too many connections from your address (at most " + counts.maxPerAddress()
                + ", fewer while the server is nearly full).";
    }

    static String full(ConnectionCounts counts) {
        return "The server is at its connection limit (" + counts.max() + "); retry later.";
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        Channel child = (Channel) msg;
        if (failures > 0) {
            recovered();
        }
        if (!(child.remoteAddress() instanceof InetSocketAddress remote)) {
            ctx.fireChannelRead(child);
            return;
        }
        InetAddress address = remote.getAddress();
        HttpResponseStatus refusal;
        if (proxies.contains(address)) {
            refusal = counts.tryOpen();
            if (refusal == null) {
                child.closeFuture().addListener(f -> counts.closed());
            }
        } else {
            refusal = counts.tryAcquire(address);
            if (refusal == null) {
                child.closeFuture().addListener(f -> counts.release(address));
            }
        }
        if (refusal == null) {
            ctx.fireChannelRead(child);
        } else {
            refuse(ctx, child, refusal == HttpResponseStatus.TOO_MANY_REQUESTS ? tooManyFromAddress : full);
        }
    }

    /** Closes {@code child} now, after one write of {@code answer} when there is one. */
    private static void refuse(ChannelHandlerContext ctx, Channel child, ByteBuf answer) {
        if (answer == null) {
            child.unsafe().closeForcibly();
            return;
        }
        child.pipeline().addLast(new ChannelInboundHandlerAdapter() {
            @Override
            public void channelActive(ChannelHandlerContext c) {
                // The buffer is empty, so the write completes in this call; the close does not wait for it.
                c.writeAndFlush(answer.duplicate());
                c.close();
            }

            @Override
            public void channelRead(ChannelHandlerContext c, Object m) {
                ReferenceCountUtil.release(m);
            }

            @Override
            public void exceptionCaught(ChannelHandlerContext c, Throwable cause) {
                c.close();
            }
        });
        ctx.channel().eventLoop().register(child).addListener(f -> {
            if (!f.isSuccess()) {
                child.unsafe().closeForcibly();
            }
        });
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (!(cause instanceof IOException)) {
            ctx.fireExceptionCaught(cause);
            return;
        }
        long now = System.nanoTime();
        if (failures++ == 0) {
            failingSinceNanos = now;
        }
        // One limit for every line about failed accepts, across episodes: accepts that fail, work once
        // (a connection closed and freed a descriptor) and fail again must not fill the log either.
        if (lastLoggedNanos == 0 || now - lastLoggedNanos >= TimeUnit.SECONDS.toNanos(REPEAT_LOG_SECONDS)) {
            lastLoggedNanos = now;
            episodeLogged = true;
            log.warn("Cannot accept connections: {} ({} failed accepts in {} ms). Pausing accepts, at most {} ms at a"
                            + " time; for \"Too many open files\", raise ulimit -n or lower --max-connections.",
                    cause.getMessage(), failures, TimeUnit.NANOSECONDS.toMillis(now - failingSinceNanos),
                    LONGEST_PAUSE_MS);
        }
        pause(ctx);
    }

    private void pause(ChannelHandlerContext ctx) {
        ChannelConfig config = ctx.channel().config();
        if (resume != null) {
            return;
        }
        // With auto-read off, Netty stops watching the socket for accepts until it is turned on again.
        config.setAutoRead(false);
        resume = ctx.executor().schedule(() -> {
            resume = null;
            config.setAutoRead(true);
        }, pauseMs, TimeUnit.MILLISECONDS);
        pauseMs = Math.min(LONGEST_PAUSE_MS, pauseMs * 2);
    }

    private void recovered() {
        if (episodeLogged) {
            log.info("Accepting connections again, after {} failed accepts in {} ms", failures,
                    TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - failingSinceNanos));
        }
        episodeLogged = false;
        failures = 0;
        pauseMs = FIRST_PAUSE_MS;
    }

    private static ByteBuf refusal(HttpResponseStatus status, String why) {
        byte[] body = (why + "\n").getBytes(StandardCharsets.UTF_8);
        String head = "HTTP/1.1 " + status + "\r\n"
                + "Content-Type: text/plain; charset=utf-8\r\n"
                + "Content-Length: " + body.length + "\r\n"
                + "Retry-After: 5\r\n"
                + "Cache-Control: no-cache\r\n"
                + "Connection: close\r\n\r\n";
        ByteBuf bytes = Unpooled.buffer(head.length() + body.length);
        bytes.writeCharSequence(head, StandardCharsets.US_ASCII);
        bytes.writeBytes(body);
        return Unpooled.unreleasableBuffer(bytes.asReadOnly());
    }
}
