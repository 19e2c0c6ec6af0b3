package io.parley.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketServerProtocolConfig;
import io.netty.handler.codec.http.websocketx.WebSocketServerProtocolHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A stand-in for a Parley server that does nothing but fan out: used to measure what the load
 * generator itself can take ({@code parley bench echo-server}, docs/BENCHMARKS.md "Load generator
 * capacity"), and by tests to make a delivery go missing on purpose.
 *
 * <p>It speaks just enough of the protocol for {@code parley bench}: {@code hello} gets a
 * {@code welcome}, {@code join} a {@code joined} with the room's seq and no history, and each
 * {@code send} is numbered, acked, and turned into one {@code message} frame, built once, with the
 * sender's text (which carries the bench's latency marker) copied in verbatim. Nothing is stored,
 * checked or limited. The bench's own pacer sets the rate; the echo server keeps the clock the
 * latency is read on in the bench's process.
 *
 * <p>Fan-out is write-many-flush-once, and cheaper than any real server's: frames are appended to
 * one batch buffer per room; every {@code batchInterval} the batch goes, as one retained slice, to
 * each event loop that has members, which writes it to each of them and flushes each once. One write
 * per member per interval however many messages it holds, so this server spends far less per delivery
 * than the client does.
 *
 * <p>{@code dropMessage} numbers one send (0 for the first) that is acked and given its seq but
 * delivered to nobody: a loss, as from a broken server, which a correct load generator must report.
 *
 * <p>Threads: connections on the worker loops; every room's state (seq, members, batch) on one room
 * thread, to which the workers hand joins and sends. Each worker loop only writes what it is handed.
 */
public final class EchoServer implements AutoCloseable {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Logger LOG = LoggerFactory.getLogger(EchoServer.class);

    private final EventLoopGroup acceptor;
    private final EventLoopGroup workers;
    private final EventLoopGroup roomLoopGroup;
    private final EventLoop roomLoop;
    private final Channel listener;
    private final long dropMessage;
    private final ScheduledFuture<?> fanOuts;
    /** Room thread only. */
    private final Map<String, Room> rooms = new HashMap<>();
    private long sends;
    private long sessions;
    private boolean closed;

    private EchoServer(InetSocketAddress address, Duration batchInterval, long dropMessage) throws InterruptedException {
        this.dropMessage = dropMessage;
        int cores = Runtime.getRuntime().availableProcessors();
        acceptor = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("echo-accept", true),
                NioIoHandler.newFactory());
        workers = new MultiThreadIoEventLoopGroup(cores, new DefaultThreadFactory("echo-loop", true),
                NioIoHandler.newFactory());
        roomLoopGroup = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("echo-room", true),
                NioIoHandler.newFactory());
        roomLoop = roomLoopGroup.next();
        WebSocketServerProtocolConfig webSocket = WebSocketServerProtocolConfig.newBuilder()
                .websocketPath("/").checkStartsWith(true).handleCloseFrames(true).build();
        listener = new ServerBootstrap().group(acceptor, workers).channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(8192),
                                new WebSocketServerProtocolHandler(webSocket), new Session());
                    }
                })
                .bind(address).sync().channel();
        long interval = batchInterval.toNanos();
        fanOuts = roomLoop.scheduleAtFixedRate(this::fanOut, interval, interval, TimeUnit.NANOSECONDS);
    }

    /**
     * Starts listening on {@code address} (port 0: a free one).
     *
     * @param batchInterval how long sends gather before they go out together
     * @param dropMessage   the send (from 0) to deliver to nobody, or -1 for none
     */
    public static EchoServer start(InetSocketAddress address, Duration batchInterval, long dropMessage)
            throws InterruptedException {
        return new EchoServer(address, batchInterval, dropMessage);
    }

    public int port() {
        return ((InetSocketAddress) listener.localAddress()).getPort();
    }

    @Override
    public void close() {
        listener.close().syncUninterruptibly();
        // On the room thread, after any fan-out in progress: no batch is touched once released.
        roomLoop.submit(() -> {
            closed = true;
            fanOuts.cancel(false);
            rooms.values().forEach(room -> room.batch.release());
            rooms.clear();
        }).syncUninterruptibly();
        roomLoopGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        workers.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        acceptor.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    /** One room: its seq, its members by event loop, and the frames not yet sent. Room thread only. */
    private static final class Room {
        final String name;
        final Map<EventLoop, List<Channel>> members = new HashMap<>();
        final ByteBuf batch = Unpooled.buffer(64 * 1024);
        long seq;

        Room(String name) {
            this.name = name;
        }
    }

    private void join(Channel member, String roomName) {
        if (closed) {
            return;
        }
        Room room = rooms.computeIfAbsent(roomName, Room::new);
        // Frames gathered so far predate this member: they go out before it is added.
        fanOut(room);
        List<Channel> onLoop = new ArrayList<>(room.members.getOrDefault(member.eventLoop(), List.of()));
        onLoop.add(member);
        // Copied on change: the worker loops iterate the list they were handed.
        room.members.put(member.eventLoop(), List.copyOf(onLoop));
        member.closeFuture().addListener(closed -> roomLoop.execute(() -> leave(member, room)));
        ObjectNode joined = JSON.createObjectNode().put("type", "joined").put("room", roomName)
                .put("seq", room.seq).put("members", room.members.values().stream().mapToInt(List::size).sum())
                .put("complete", true);
        joined.putArray("history");
        member.writeAndFlush(new TextWebSocketFrame(joined.toString()));
    }

    private void leave(Channel member, Room room) {
        List<Channel> onLoop = new ArrayList<>(room.members.getOrDefault(member.eventLoop(), List.of()));
        onLoop.remove(member);
        if (onLoop.isEmpty()) {
            room.members.remove(member.eventLoop());
        } else {
            room.members.put(member.eventLoop(), List.copyOf(onLoop));
        }
    }

    private void send(Channel sender, String user, String roomName, String id, String text) {
        Room room = rooms.get(roomName);
        if (closed) {
            return;
        }
        if (room == null) {
            sender.writeAndFlush(new TextWebSocketFrame(
                    "{\"type\":\"error\",\"code\":\"not_member\",\"message\":\"join the room first\"}"));
            return;
        }
        long seq = ++room.seq;
        long time = System.currentTimeMillis();
        if (sends++ != dropMessage) {
            ObjectNode message = JSON.createObjectNode().put("type", "message").put("room", roomName)
                    .put("seq", seq).put("id", id).put("user", user).put("from", user).put("text", text)
                    .put("time", time);
            appendFrame(room.batch, message.toString().getBytes(StandardCharsets.UTF_8));
        }
        ObjectNode ack = JSON.createObjectNode().put("type", "ack").put("id", id).put("room", roomName)
                .put("seq", seq).put("time", time);
        sender.writeAndFlush(new TextWebSocketFrame(ack.toString()));
    }

    /** An unmasked final text frame, as a server writes it. */
    static void appendFrame(ByteBuf out, byte[] payload) {
        out.writeByte(0x80 | FrameReader.OP_TEXT);
        if (payload.length < 126) {
            out.writeByte(payload.length);
        } else if (payload.length <= 0xFFFF) {
            out.writeByte(126).writeShort(payload.length);
        } else {
            out.writeByte(127).writeLong(payload.length);
        }
        out.writeBytes(payload);
    }

    private void fanOut() {
        rooms.values().forEach(this::fanOut);
    }

    /** Hands the room's batch to every loop with members: one write and one flush per member. */
    private void fanOut(Room room) {
        if (!room.batch.isReadable()) {
            return;
        }
        // Direct, so that every member's write is a slice of the same memory: a heap buffer would be
        // copied into a direct one per member by the socket write, and a batch that grew while the
        // machine was busy (seconds of messages) then asks for gigabytes of direct memory at once.
        ByteBuf frames = Unpooled.directBuffer(room.batch.readableBytes()).writeBytes(room.batch);
        room.batch.clear();
        room.members.forEach((loop, channels) -> {
            ByteBuf forLoop = frames.retainedDuplicate();
            loop.execute(() -> {
                try {
                    for (Channel channel : channels) {
                        if (channel.isActive()) {
                            channel.write(forLoop.retainedDuplicate(), channel.voidPromise());
                        }
                    }
                    for (Channel channel : channels) {
                        channel.flush();
                    }
                } finally {
                    forLoop.release();
                }
            });
        });
        frames.release();
    }

    /** One connection's requests, after the upgrade; on its worker loop. */
    private final class Session extends SimpleChannelInboundHandler<TextWebSocketFrame> {
        private String user;

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, TextWebSocketFrame frame) throws Exception {
            JsonNode request = JSON.readTree(frame.text());
            Channel channel = ctx.channel();
            switch (request.path("type").asText()) {
                case "hello" -> {
                    user = request.path("name").asText("guest");
                    roomLoop.execute(() -> {
                        ObjectNode welcome = JSON.createObjectNode().put("type", "welcome")
                                .put("session", "echo-" + ++sessions).put("name", user).put("protocol", "parley.v1");
                        channel.writeAndFlush(new TextWebSocketFrame(welcome.toString()));
                    });
                }
                case "join" -> {
                    String room = request.path("room").asText();
                    roomLoop.execute(() -> join(channel, room));
                }
                case "send" -> {
                    String room = request.path("room").asText();
                    String id = request.path("id").asText();
                    String text = request.path("text").asText();
                    String from = user == null ? "guest" : user;
                    roomLoop.execute(() -> send(channel, from, room, id, text));
                }
                default -> {
                    // ping, leave, history: a load test does not need them.
                }
            }
        }

        /**
         * A write that failed, or a request that could not be read: the member is closed, so the bench
         * reports a drop and not a silent loss. Said once per member, without the trace; a member that
         * is already gone is closed quietly.
         */
        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (ctx.channel().isActive()) {
                LOG.warn("closing {}: {}", ctx.channel().remoteAddress(), cause.toString());
            }
            ctx.close();
        }
    }
}
