package io.parley.bench;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Benchmark members over WebSocket on the lean client: Netty channels on one event loop per core,
 * each member a {@link LeanMember} that reads deliveries from the socket's bytes without decoding them.
 * The {@link WebSocketTransport} (the JDK's client) decodes every frame into a String and tops out
 * near 500,000 deliveries a second on two cores, below the server it measures; this one does a
 * fraction of that work per delivery (see docs/BENCHMARKS.md, "Load generator capacity").
 *
 * <p>Plain {@code ws://} only: a load generator on loopback or a private network has no use for TLS,
 * and measuring TLS would be measuring the JDK's cipher code. Use {@code --client jdk} for {@code wss}.
 *
 * <p>Threads: {@link #join} runs on the bench's pacer thread and only starts a connect; everything
 * else happens on the event loops, {@link MemberEvents} calls included.
 */
public final class LeanWebSocketTransport implements BenchTransport {

    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);
    private static final Duration JOIN_TIMEOUT = Duration.ofSeconds(30);

    private final URI url;
    private final EventLoopGroup loops;
    private final Bootstrap bootstrap;
    private final FrameWriter writer = new FrameWriter();

    /** Members that present {@code token} (in the {@code token} query parameter), or guests for {@code null}. */
    public LeanWebSocketTransport(URI url, String token) {
        if (!"ws".equals(url.getScheme() == null ? null : url.getScheme().toLowerCase(Locale.ROOT))) {
            throw new IllegalArgumentException("the lean client speaks ws:// only; use --client jdk for " + url);
        }
        this.url = token == null ? url : URI.create(url + (url.getRawQuery() == null ? "?" : "&") + "token="
                + URLEncoder.encode(token, StandardCharsets.UTF_8));
        this.loops = new MultiThreadIoEventLoopGroup(Runtime.getRuntime().availableProcessors(),
                new DefaultThreadFactory("parley-bench-lean", true), NioIoHandler.newFactory());
        this.bootstrap = new Bootstrap().group(loops).channel(NioSocketChannel.class)
                .option(ChannelOption.TCP_NODELAY, true)
                // Netty 4.2's default (adaptive) allocator copies out of its direct buffers through a
                // fresh ByteBuffer duplicate per call when Unsafe is off (JDK 25), readBytes included:
                // an allocation per delivery. The pooled allocator's readBytes uses a cached one.
                .option(ChannelOption.ALLOCATOR, PooledByteBufAllocator.DEFAULT)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) CONNECT_TIMEOUT.toMillis());
    }

    @Override
    public String name() {
        return "websocket";
    }

    @Override
    public CompletableFuture<BenchMember> join(String name, String room, MemberEvents events) {
        LeanMember member = new LeanMember(name, room, url, events, writer);
        int port = url.getPort() < 0 ? 80 : url.getPort();
        bootstrap.clone().handler(member).connect(url.getHost(), port).addListener(connected -> {
            if (!connected.isSuccess()) {
                member.connectFailed(connected.cause());
            }
        });
        CompletableFuture<BenchMember> joined = member.joined();
        joined.completeOnTimeout(null, JOIN_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        return joined.thenCompose(joinedMember -> {
            if (joinedMember != null) {
                return CompletableFuture.completedFuture(joinedMember);
            }
            String why = "not joined within " + JOIN_TIMEOUT.toSeconds() + " s";
            member.connectFailed(new IOException(why));
            return CompletableFuture.failedFuture(new IOException(name + ": " + why));
        });
    }

    @Override
    public void close() {
        loops.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }
}
