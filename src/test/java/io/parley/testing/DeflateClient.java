package io.parley.testing;

import com.fasterxml.jackson.databind.JsonNode;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketClientProtocolConfig;
import io.netty.handler.codec.http.websocketx.WebSocketClientProtocolHandler;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketFrameAggregator;
import io.netty.handler.codec.http.websocketx.extensions.WebSocketClientExtensionHandler;
import io.netty.handler.codec.http.websocketx.extensions.WebSocketExtension;
import io.netty.handler.codec.http.websocketx.extensions.compression.PerMessageDeflateClientExtensionHandshaker;
import io.netty.handler.codec.http.websocketx.extensions.compression.PerMessageDeflateServerExtensionHandshaker;

import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A chat client that offers permessage-deflate, as browsers do: Netty's WebSocket client with its
 * compression extension (the JDK's WebSocket supports no extensions). It records what crossed the
 * wire, so a test can tell compressed frames from plain ones and count bytes: every frame as received
 * (RSV1 set or not) before it is inflated, and every byte read from the socket.
 *
 * <p>Netty's client declines {@code client_no_context_takeover} in an answer unless told it may accept
 * it; RFC 7692 says a client must, and browsers do, so this one is told.
 */
public final class DeflateClient implements AutoCloseable {

    private static final Duration TIMEOUT = Duration.ofSeconds(10);

    private final EventLoopGroup group;
    private final Channel channel;
    private final BlockingQueue<JsonNode> inbox = new LinkedBlockingQueue<>();
    private final CompletableFuture<Void> handshake = new CompletableFuture<>();
    /** Text frames as they arrived: true when RSV1 (compressed) was set. */
    private final List<Boolean> compressed = new ArrayList<>();
    private final AtomicLong wireBytes = new AtomicLong();
    private volatile String extensions;
    private final boolean ownsGroup;

    private DeflateClient(URI uri, boolean offer, EventLoopGroup shared) throws InterruptedException {
        ownsGroup = shared == null;
        group = ownsGroup ? new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory()) : shared;
        WebSocketClientProtocolConfig config = WebSocketClientProtocolConfig.newBuilder()
                .webSocketUri(uri)
                .subprotocol("parley.v1")
                .maxFramePayloadLength(1 << 20)
                .allowExtensions(offer)
                .handleCloseFrames(true)
                .build();
        channel = new Bootstrap().group(group).channel(NioSocketChannel.class)
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast("wire", new WireCounter());
                        ch.pipeline().addLast("http", new HttpClientCodec());
                        // After the upgrade the frame decoder takes the codec's place, so this sees frames
                        // as they came, before the extension inflates them.
                        ch.pipeline().addLast("spy", new FrameSpy());
                        ch.pipeline().addLast(new HttpObjectAggregator(64 * 1024));
                        if (offer) {
                            ch.pipeline().addLast(new WebSocketClientExtensionHandler(
                                    new PerMessageDeflateClientExtensionHandshaker(6, false,
                                            PerMessageDeflateServerExtensionHandshaker.MAX_WINDOW_SIZE, true, false)));
                        }
                        ch.pipeline().addLast(new WebSocketClientProtocolHandler(config));
                        ch.pipeline().addLast(new WebSocketFrameAggregator(1 << 20));
                        ch.pipeline().addLast(new Inbox());
                    }
                })
                .connect(uri.getHost(), uri.getPort()).sync().channel();
    }

    /** Connects offering permessage-deflate (or not), and waits for the handshake. */
    public static DeflateClient connect(URI uri, boolean offer) throws Exception {
        return connect(uri, offer, null);
    }

    /** As {@link #connect(URI, boolean)}, on a caller's event loops (which this client will not shut down). */
    public static DeflateClient connect(URI uri, boolean offer, EventLoopGroup group) throws Exception {
        DeflateClient c = new DeflateClient(uri, offer, group);
        c.handshake.get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        return c;
    }

    /** Connects, says hello as {@code name} and waits for the welcome. */
    public static DeflateClient hello(URI uri, String name) throws Exception {
        DeflateClient c = connect(uri, true);
        c.send(Map.of("type", "hello", "name", name));
        c.expect("welcome");
        return c;
    }

    /** The Sec-WebSocket-Extensions header of the server's 101, or null if it had none. */
    public String extensions() {
        return extensions;
    }

    public void send(Map<String, ?> message) {
        channel.writeAndFlush(new TextWebSocketFrame(WsClient.JSON.valueToTree(message).toString())).syncUninterruptibly();
    }

    public JsonNode join(String room) {
        send(Map.of("type", "join", "room", room));
        return expect("joined", m -> room.equals(m.path("room").asText()));
    }

    public JsonNode expect(String type) {
        return expect(type, m -> true);
    }

    /** The next message of this type that matches, skipping others; fails after a timeout. */
    public JsonNode expect(String type, java.util.function.Predicate<JsonNode> match) {
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        List<JsonNode> skipped = new ArrayList<>();
        try {
            while (System.nanoTime() < deadline) {
                JsonNode m = inbox.poll(deadline - System.nanoTime(), TimeUnit.NANOSECONDS);
                if (m == null) {
                    break;
                }
                if (type.equals(m.path("type").asText()) && match.test(m)) {
                    return m;
                }
                skipped.add(m);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        throw new AssertionError("no '" + type + "' within " + TIMEOUT + "; got instead: " + skipped);
    }

    /** Whether each text frame received so far was compressed, in arrival order. */
    public List<Boolean> compressedFrames() {
        synchronized (compressed) {
            return List.copyOf(compressed);
        }
    }

    /** Bytes read from the socket so far, handshake included. */
    public long wireBytes() {
        return wireBytes.get();
    }

    @Override
    public void close() {
        channel.close().syncUninterruptibly();
        if (ownsGroup) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    private final class WireCounter extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof ByteBuf b) {
                wireBytes.addAndGet(b.readableBytes());
            }
            ctx.fireChannelRead(msg);
        }
    }

    private final class FrameSpy extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof HttpResponse response) {
                extensions = response.headers().get(HttpHeaderNames.SEC_WEBSOCKET_EXTENSIONS);
            } else if (msg instanceof TextWebSocketFrame frame) {
                synchronized (compressed) {
                    compressed.add((frame.rsv() & WebSocketExtension.RSV1) != 0);
                }
            }
            ctx.fireChannelRead(msg);
        }
    }

    private final class Inbox extends SimpleChannelInboundHandler<WebSocketFrame> {
        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
            if (evt == WebSocketClientProtocolHandler.ClientHandshakeStateEvent.HANDSHAKE_COMPLETE) {
                handshake.complete(null);
            }
            super.userEventTriggered(ctx, evt);
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, WebSocketFrame frame) throws Exception {
            if (frame instanceof TextWebSocketFrame text) {
                inbox.add(WsClient.JSON.readTree(text.text()));
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            handshake.completeExceptionally(cause);
            ctx.close();
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            handshake.completeExceptionally(new IllegalStateException("closed before the handshake completed"));
        }
    }
}
