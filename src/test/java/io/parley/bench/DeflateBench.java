package io.parley.bench;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketClientProtocolConfig;
import io.netty.handler.codec.http.websocketx.WebSocketClientProtocolHandler;
import io.netty.handler.codec.http.websocketx.extensions.WebSocketClientExtensionHandler;
import io.netty.handler.codec.http.websocketx.extensions.compression.PerMessageDeflateClientExtensionHandshaker;
import io.netty.handler.codec.http.websocketx.extensions.compression.PerMessageDeflateServerExtensionHandshaker;
import io.parley.testing.ChatText;
import io.parley.testing.WsClient;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Bytes on the wire and server CPU per delivery, with and without permessage-deflate, on chat-like
 * text. {@code parley bench} cannot measure this: its JDK WebSocket client offers no extensions. This
 * one opens its members with Netty's WebSocket client, offering permessage-deflate or not, counts the
 * messages they get (without parsing them), and reads the server's own counters before and after.
 *
 * <p>Run against a {@code parley serve --no-rate-limits} on this machine:
 * <pre>
 *   java -cp target/classes:target/test-classes:$(cat cp.txt) io.parley.bench.DeflateBench \
 *       PORT MEMBERS MESSAGES RATE on|off
 * </pre>
 * One JDK client sends {@code MESSAGES} lines of 50-200 characters at {@code RATE} a second to a room
 * of {@code MEMBERS}; the figures cover the window from the first send to the last delivery.
 */
public final class DeflateBench {

    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(args[0]);
        int members = Integer.parseInt(args[1]);
        int messages = Integer.parseInt(args[2]);
        int rate = Integer.parseInt(args[3]);
        boolean deflate = args[4].equals("on");
        URI chat = URI.create("ws://127.0.0.1:" + port + "/chat");
        String room = "bench-" + System.nanoTime();
        AtomicLong received = new AtomicLong();
        CountDownLatch joined = new CountDownLatch(members);
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
        List<Channel> channels = new ArrayList<>();
        try (MetricsReader metrics = new MetricsReader(URI.create("http://127.0.0.1:" + port + "/metrics"))) {
            for (int i = 0; i < members; i++) {
                channels.add(member(group, chat, deflate, "m" + i, room, received, joined));
            }
            if (!joined.await(60, TimeUnit.SECONDS)) {
                throw new IllegalStateException(joined.getCount() + " members did not join");
            }
            try (WsClient sender = WsClient.hello(chat, "sender")) {
                sender.join(room);
                List<String> lines = ChatText.lines(messages, 7);
                received.set(0);
                Map<String, Double> before = metrics.read();
                long start = System.nanoTime();
                long interval = 1_000_000_000L / rate;
                for (int i = 0; i < messages; i++) {
                    long due = start + i * interval;
                    long wait = due - System.nanoTime();
                    if (wait > 0) {
                        TimeUnit.NANOSECONDS.sleep(wait);
                    }
                    sender.say(room, "b" + i, lines.get(i));
                }
                long expected = (long) members * messages;
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                while (received.get() < expected && System.nanoTime() < deadline) {
                    TimeUnit.MILLISECONDS.sleep(5);
                }
                double seconds = (System.nanoTime() - start) / 1e9;
                Map<String, Double> after = metrics.read();
                double deliveries = after.get(MetricsReader.DELIVERIES) - before.get(MetricsReader.DELIVERIES);
                double bytes = after.get(MetricsReader.BYTES_SENT) - before.get(MetricsReader.BYTES_SENT);
                double cpu = after.get(MetricsReader.CPU_SECONDS) - before.get(MetricsReader.CPU_SECONDS);
                double textBytes = lines.stream().mapToInt(l -> l.getBytes(StandardCharsets.UTF_8).length).sum()
                        / (double) messages;
                System.out.printf("deflate=%s members=%d messages=%d rate=%d/s: received %d of %d in %.2f s;"
                                + " server: %.1f bytes sent/delivery (text %.1f), %.3f us CPU/delivery,"
                                + " %.0f deliveries/s%n",
                        deflate ? "on" : "off", members, messages, rate, received.get(), expected, seconds,
                        bytes / deliveries, textBytes, cpu * 1e6 / deliveries, deliveries / seconds);
            }
        } finally {
            for (Channel c : channels) {
                c.close();
            }
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    private static Channel member(EventLoopGroup group, URI chat, boolean deflate, String name, String room,
                                  AtomicLong received, CountDownLatch joined) throws InterruptedException {
        WebSocketClientProtocolConfig config = WebSocketClientProtocolConfig.newBuilder()
                .webSocketUri(chat).subprotocol("parley.v1").allowExtensions(deflate).build();
        return new Bootstrap().group(group).channel(NioSocketChannel.class)
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(new HttpClientCodec(), new HttpObjectAggregator(8192));
                        if (deflate) {
                            // Accepts client_no_context_takeover, as RFC 7692 says a client must.
                            ch.pipeline().addLast(new WebSocketClientExtensionHandler(
                                    new PerMessageDeflateClientExtensionHandshaker(6, false,
                                            PerMessageDeflateServerExtensionHandshaker.MAX_WINDOW_SIZE, true, false)));
                        }
                        ch.pipeline().addLast(new WebSocketClientProtocolHandler(config));
                        ch.pipeline().addLast(new Counter(name, room, received, joined));
                    }
                })
                .connect(chat.getHost(), chat.getPort()).sync().channel();
    }

    /** Says hello and joins once the handshake is done, then counts the room's messages. */
    private static final class Counter extends SimpleChannelInboundHandler<TextWebSocketFrame> {
        private static final byte[] MESSAGE = "{\"type\":\"message\"".getBytes(StandardCharsets.UTF_8);
        private static final byte[] JOINED = "{\"type\":\"joined\"".getBytes(StandardCharsets.UTF_8);
        private final String name;
        private final String room;
        private final AtomicLong received;
        private final CountDownLatch joined;

        Counter(String name, String room, AtomicLong received, CountDownLatch joined) {
            this.name = name;
            this.room = room;
            this.received = received;
            this.joined = joined;
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
            if (evt == WebSocketClientProtocolHandler.ClientHandshakeStateEvent.HANDSHAKE_COMPLETE) {
                ctx.write(new TextWebSocketFrame("{\"type\":\"hello\",\"name\":\"" + name + "\"}"));
                ctx.writeAndFlush(new TextWebSocketFrame("{\"type\":\"join\",\"room\":\"" + room + "\"}"));
            }
            super.userEventTriggered(ctx, evt);
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, TextWebSocketFrame frame) {
            if (startsWith(frame, MESSAGE)) {
                received.incrementAndGet();
            } else if (startsWith(frame, JOINED)) {
                joined.countDown();
            }
        }

        private static boolean startsWith(TextWebSocketFrame frame, byte[] prefix) {
            var content = frame.content();
            if (content.readableBytes() < prefix.length) {
                return false;
            }
            for (int i = 0; i < prefix.length; i++) {
                if (content.getByte(content.readerIndex() + i) != prefix[i]) {
                    return false;
                }
            }
            return true;
        }
    }
}
