package io.parley.bench;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;
import io.parley.client.Requests;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.Base64;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One member of the lean WebSocket client ({@link LeanWebSocketTransport}): the handler of its Netty
 * channel. It performs the opening handshake itself, says hello, joins, and then reads deliveries
 * straight from the bytes the socket read.
 *
 * <p>The per-delivery path allocates nothing and decodes no JSON: {@link FrameReader} finds the frame
 * in the read buffer, its bytes are copied once into this member's scratch array, a frame whose first
 * bytes are {@code {"type":"message"} is a delivery, its {@code "seq":} digits are read where they
 * are, and {@link MemberEvents#messageReceived(byte[], int)} gets the array, in which {@link Payload}
 * scans for the run's marker. Acks,
 * presence, welcome and this member's joined are recognised by their first bytes the same way (a
 * joins-only run of 20,000 members decoded 40,000 frames with Jackson before). Everything else (errors,
 * and any frame with its fields in another order: the protocol does not fix the order) is decoded
 * with Jackson, which is rare.
 *
 * <p>Checks the {@link WebSocketMember} cannot make: every delivery's seq must follow the previous one
 * (starting after the {@code seq} of {@code joined}), so a message lost or reordered anywhere between
 * the server's store and this socket is reported at the member that missed it, and each member counts
 * its own deliveries of the run's messages.
 *
 * <p>Threads: the handler methods run on the channel's event loop. {@link #send} and {@link #leave} run
 * on the bench's threads and only hand frames to the channel. {@link #deliveries} is read by the run
 * after its drain, hence the ordered write.
 */
final class LeanMember extends ChannelInboundHandlerAdapter implements BenchMember {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final byte[] MESSAGE = ascii("{\"type\":\"message\"");
    private static final byte[] ACK = ascii("{\"type\":\"ack\"");
    private static final byte[] PRESENCE = ascii("{\"type\":\"presence\"");
    private static final byte[] WELCOME = ascii("{\"type\":\"welcome\"");
    private static final byte[] SEQ = ascii("\"seq\":");
    private static final byte[] HEADER_END = ascii("\r\n\r\n");
    private static final String ACCEPT_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    private static final int MAX_HANDSHAKE_RESPONSE = 16 * 1024;
    static final int MAX_PAYLOAD = 16 * 1024 * 1024;
    /** Text frames longer than this (history replies, not deliveries) are decoded the slow way. */
    private static final int MAX_SCRATCH = 64 * 1024;
    private static final long CLOSE_WAIT_MILLIS = 2_000;

    private final String name;
    private final String room;
    private final URI url;
    private final MemberEvents events;
    private final FrameWriter writer;
    private final String key;
    private final CompletableFuture<BenchMember> joined = new CompletableFuture<>();
    private final CompletableFuture<Void> closed = new CompletableFuture<>();
    private final FrameReader.Sink sink = this::frame;
    private final AtomicLong deliveries = new AtomicLong();
    /**
     * How Parley's {@code joined} for this member's room begins (its fields in the order the server
     * writes them); its seq follows. Any other shape is decoded with Jackson.
     */
    private final byte[] joinedPrefix;

    private volatile Channel channel;
    private volatile boolean leaving;
    /** Event loop only from here on. */
    private FrameReader reader;
    private boolean upgraded;
    private ByteBuf handshake;
    private ByteBuf fragments;
    private int fragmentsOpcode;
    private long lastSeq = -1;
    private long delivered;
    private String closeReason;
    /** This member's copy of the text frame being read; grows to the largest delivery, then stays. */
    private byte[] scratch = new byte[256];

    LeanMember(String name, String room, URI url, MemberEvents events, FrameWriter writer) {
        this.name = name;
        this.room = room;
        this.url = url;
        this.events = events;
        this.writer = writer;
        byte[] nonce = new byte[16];
        ThreadLocalRandom.current().nextBytes(nonce);
        this.key = Base64.getEncoder().encodeToString(nonce);
        this.joinedPrefix = ("{\"type\":\"joined\",\"room\":" + quoted(room) + ",\"seq\":")
                .getBytes(StandardCharsets.UTF_8);
    }

    private static String quoted(String text) {
        try {
            return JSON.writeValueAsString(text);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("room name not writable as JSON: " + text, e);
        }
    }

    /** Completes once the server confirmed the join; fails with a readable reason otherwise. */
    CompletableFuture<BenchMember> joined() {
        return joined;
    }

    /** The connection could not be opened at all. */
    void connectFailed(Throwable cause) {
        fail(cause instanceof ConnectException ? "connection refused"
                : cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage());
    }

    @Override
    public void send(String id, String text) {
        Channel current = channel;
        current.writeAndFlush(writer.text(current.alloc(), Requests.send(room, id, text).getBytes(StandardCharsets.UTF_8)),
                current.voidPromise());
    }

    @Override
    public CompletableFuture<Void> leave() {
        leaving = true;
        Channel current = channel;
        if (current == null || !current.isActive()) {
            return CompletableFuture.completedFuture(null);
        }
        current.writeAndFlush(writer.close(current.alloc(), 1000));
        // The server answers with its own close and ends the TCP connection; do not wait forever for it.
        current.eventLoop().schedule(() -> current.close(), CLOSE_WAIT_MILLIS, TimeUnit.MILLISECONDS);
        return closed;
    }

    @Override
    public long deliveries() {
        return deliveries.get();
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        channel = ctx.channel();
        reader = new FrameReader(ctx.alloc(), MAX_PAYLOAD);
        String path = (url.getRawPath() == null || url.getRawPath().isEmpty() ? "/" : url.getRawPath())
                + (url.getRawQuery() == null ? "" : "?" + url.getRawQuery());
        String request = "GET " + path + " HTTP/1.1\r\n"
                + "Host: " + url.getHost() + (url.getPort() < 0 ? "" : ":" + url.getPort()) + "\r\n"
                + "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n\r\n";
        ctx.writeAndFlush(Unpooled.copiedBuffer(request, StandardCharsets.US_ASCII));
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        ByteBuf in = (ByteBuf) msg;
        try {
            if (!upgraded && !readHandshake(ctx, in)) {
                return;
            }
            reader.read(in, sink);
        } catch (FrameReader.ProtocolError e) {
            closeReason = "protocol error: " + e.getMessage();
            ctx.close();
        } finally {
            ReferenceCountUtil.release(in);
        }
    }

    /** Collects the handshake response; true once it was accepted and {@code in} holds what follows it. */
    private boolean readHandshake(ChannelHandlerContext ctx, ByteBuf in) {
        if (handshake == null) {
            handshake = ctx.alloc().heapBuffer(512);
        }
        int before = handshake.writerIndex();
        handshake.writeBytes(in, in.readerIndex(), in.readableBytes());
        int end = indexOf(handshake, HEADER_END);
        if (end < 0) {
            in.skipBytes(in.readableBytes());
            if (handshake.readableBytes() > MAX_HANDSHAKE_RESPONSE) {
                fail("handshake response over " + MAX_HANDSHAKE_RESPONSE + " bytes");
            }
            return false;
        }
        int headerLength = end + HEADER_END.length;
        in.skipBytes(headerLength - before);
        String response = handshake.toString(0, headerLength, StandardCharsets.ISO_8859_1);
        handshake.release();
        handshake = null;
        String refusal = checkHandshake(response);
        if (refusal != null) {
            fail(refusal);
            return false;
        }
        upgraded = true;
        // One write for both: the server reads them in one go, and neither side pays a second syscall.
        ctx.write(writer.text(ctx.alloc(), Requests.hello(name).getBytes(StandardCharsets.UTF_8)), ctx.voidPromise());
        write(ctx, Requests.join(room));
        return true;
    }

    /** Why the response does not accept this upgrade, or null when it does. */
    private String checkHandshake(String response) {
        String[] lines = response.split("\r\n");
        String[] status = lines[0].split(" ", 3);
        if (status.length < 2 || !status[0].startsWith("HTTP/1.")) {
            return "not an HTTP response to the handshake";
        }
        if (!status[1].equals("101")) {
            return "handshake refused with HTTP status " + status[1];
        }
        String expected = accept(key);
        for (int i = 1; i < lines.length; i++) {
            int colon = lines[i].indexOf(':');
            if (colon > 0 && lines[i].substring(0, colon).strip().toLowerCase(Locale.ROOT)
                    .equals("sec-websocket-accept")) {
                return lines[i].substring(colon + 1).strip().equals(expected) ? null
                        : "handshake answered with the wrong Sec-WebSocket-Accept";
            }
        }
        return "handshake answered without Sec-WebSocket-Accept";
    }

    static String accept(String key) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-1")
                    .digest((key + ACCEPT_GUID).getBytes(StandardCharsets.US_ASCII));
            return Base64.getEncoder().encodeToString(digest);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-1", e);
        }
    }

    private void frame(boolean fin, int opcode, ByteBuf buf, int from, int length) {
        switch (opcode) {
            case FrameReader.OP_TEXT, FrameReader.OP_BINARY, FrameReader.OP_CONTINUATION ->
                    data(fin, opcode, buf, from, length);
            case FrameReader.OP_PING -> channel.writeAndFlush(writer.pong(channel.alloc(), buf, from, length),
                    channel.voidPromise());
            case FrameReader.OP_CLOSE -> {
                int status = length >= 2 ? buf.getUnsignedShort(from) : 1005;
                String reason = length > 2 ? buf.toString(from + 2, length - 2, StandardCharsets.UTF_8) : "";
                closeReason = "closed with " + status + (reason.isEmpty() ? "" : " " + reason);
                if (!leaving) {
                    channel.writeAndFlush(writer.close(channel.alloc(), 1000));
                }
                channel.close();
            }
            default -> {
                // Pong, or an opcode no server of ours sends: nothing to do.
            }
        }
    }

    /** A data frame, or a fragment of a data message; fragments are gathered (rare: Parley does not split). */
    private void data(boolean fin, int opcode, ByteBuf buf, int from, int length) {
        if (opcode != FrameReader.OP_CONTINUATION && fragments == null && fin) {
            if (opcode == FrameReader.OP_TEXT) {
                text(buf, from, length);
            }
            return;
        }
        if (opcode != FrameReader.OP_CONTINUATION) {
            if (fragments != null) {
                protocolError("a new message began before the last one ended");
                return;
            }
            fragments = channel.alloc().heapBuffer(Math.max(256, length));
            fragmentsOpcode = opcode;
        } else if (fragments == null) {
            protocolError("continuation frame without a message to continue");
            return;
        }
        if (fragments.readableBytes() + length > MAX_PAYLOAD) {
            protocolError("fragmented message over " + MAX_PAYLOAD + " bytes");
            return;
        }
        fragments.writeBytes(buf, from, length);
        if (fin) {
            ByteBuf whole = fragments;
            fragments = null;
            if (fragmentsOpcode == FrameReader.OP_TEXT) {
                text(whole, whole.readerIndex(), whole.readableBytes());
            }
            whole.release();
        }
    }

    /**
     * A text message. Its bytes are first copied, in one go, into this member's scratch array and read
     * there: a byte at a time through the {@link ByteBuf} costs bounds and liveness checks per byte
     * (on JDK 25 Netty reaches direct memory through {@code ByteBuffer}, each access checked), which
     * measured as most of the client's work per delivery.
     */
    private void text(ByteBuf buf, int from, int length) {
        if (length > MAX_SCRATCH) {
            parsed(buf.toString(from, length, StandardCharsets.UTF_8));
            return;
        }
        if (scratch.length < length) {
            scratch = new byte[Math.min(MAX_SCRATCH, Math.max(length, 2 * scratch.length))];
        }
        // readBytes, not getBytes: without Unsafe (JDK 25) a pooled direct buffer's getBytes copies
        // through a fresh ByteBuffer duplicate, an allocation per delivery; readBytes goes through
        // the buffer's cached one. The reader index is put back: the frame reader owns it.
        int readerIndex = buf.readerIndex();
        buf.readerIndex(from).readBytes(scratch, 0, length).readerIndex(readerIndex);
        if (startsWith(scratch, length, MESSAGE)) {
            long seq = number(scratch, length, SEQ);
            if (seq >= 0) {
                delivery(seq, scratch, length);
                return;
            }
        } else if (startsWith(scratch, length, ACK)) {
            events.acked();
            return;
        } else if (startsWith(scratch, length, PRESENCE)) {
            events.presenceReceived();
            return;
        } else if (startsWith(scratch, length, WELCOME)) {
            return;
        } else if (!joined.isDone() && startsWith(scratch, length, joinedPrefix)) {
            long seq = number(scratch, length, joinedPrefix);
            if (seq >= 0) {
                lastSeq = seq;
                joined.complete(this);
                return;
            }
        }
        parsed(new String(scratch, 0, length, StandardCharsets.UTF_8));
    }

    private void delivery(long seq, byte[] carrier, int length) {
        checkSeq(seq);
        if (events.messageReceived(carrier, length)) {
            deliveries.lazySet(++delivered);
        }
    }

    private void delivery(long seq, String text) {
        checkSeq(seq);
        if (events.messageReceived(text)) {
            deliveries.lazySet(++delivered);
        }
    }

    private void checkSeq(long seq) {
        if (lastSeq >= 0 && seq != lastSeq + 1) {
            events.sequenceBroken(name, lastSeq + 1, seq);
        }
        lastSeq = Math.max(lastSeq, seq);
    }

    private void parsed(String frame) {
        JsonNode message;
        try {
            message = JSON.readTree(frame);
        } catch (JsonProcessingException e) {
            return;
        }
        switch (message.path("type").asText()) {
            case "joined" -> {
                if (room.equals(message.path("room").asText())) {
                    lastSeq = message.path("seq").asLong(-1);
                    joined.complete(this);
                }
            }
            case "message" -> delivery(message.path("seq").asLong(), message.path("text").asText());
            case "ack" -> events.acked();
            case "error" -> {
                String code = message.path("code").asText();
                if (joined.isDone()) {
                    events.rejected(code);
                } else {
                    fail("refused: " + code + ": " + message.path("message").asText());
                }
            }
            default -> {
                // welcome, presence, pong: nothing to count.
            }
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        String why = closeReason != null ? closeReason : "connection closed";
        if (!joined.isDone()) {
            fail(why);
        } else if (!leaving) {
            events.dropped(name, why);
        }
        release();
        closed.complete(null);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (closeReason == null) {
            closeReason = cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage();
        }
        ctx.close();
    }

    private void release() {
        if (reader != null) {
            reader.release();
        }
        if (handshake != null) {
            handshake.release();
            handshake = null;
        }
        if (fragments != null) {
            fragments.release();
            fragments = null;
        }
    }

    private void protocolError(String why) {
        closeReason = "protocol error: " + why;
        channel.close();
    }

    private void write(ChannelHandlerContext ctx, String json) {
        ctx.writeAndFlush(writer.text(ctx.alloc(), json.getBytes(StandardCharsets.UTF_8)), ctx.voidPromise());
    }

    /** The join failed: report why, and drop the connection without counting that as a drop. */
    private void fail(String why) {
        leaving = true;
        joined.completeExceptionally(new IOException(name + ": " + why));
        Channel current = channel;
        if (current != null) {
            current.close();
        }
    }

    private static boolean startsWith(byte[] text, int length, byte[] prefix) {
        return length >= prefix.length && Arrays.equals(text, 0, prefix.length, prefix, 0, prefix.length);
    }

    /**
     * The non-negative integer after {@code key} in {@code text[0, length)}, or -1 when the key is
     * absent or no digit follows it. In JSON text the bytes {@code "seq":} can only be a key: a quote
     * inside a string is escaped.
     */
    static long number(byte[] text, int length, byte[] key) {
        int at = Payload.indexOf(text, length, key);
        if (at < 0) {
            return -1;
        }
        long value = 0;
        int digits = 0;
        for (int i = at + key.length; i < length && digits < 18; i++) {
            byte b = text[i];
            if (b < '0' || b > '9') {
                break;
            }
            value = value * 10 + (b - '0');
            digits++;
        }
        return digits == 0 ? -1 : value;
    }

    /** Where {@code needle} starts in the readable bytes of {@code buf}, counted from its reader index. */
    private static int indexOf(ByteBuf buf, byte[] needle) {
        int from = buf.readerIndex();
        int to = buf.writerIndex();
        byte first = needle[0];
        for (int i = from; i <= to - needle.length; i++) {
            if (buf.getByte(i) != first) {
                continue;
            }
            int j = 1;
            while (j < needle.length && buf.getByte(i + j) == needle[j]) {
                j++;
            }
            if (j == needle.length) {
                return i - from;
            }
        }
        return -1;
    }

    private static byte[] ascii(String text) {
        return text.getBytes(StandardCharsets.US_ASCII);
    }
}
