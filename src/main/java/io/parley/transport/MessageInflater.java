package io.parley.transport;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.ContinuationWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CorruptedWebSocketFrameException;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import io.netty.handler.codec.http.websocketx.extensions.WebSocketExtension;
import io.netty.handler.codec.http.websocketx.extensions.WebSocketExtensionDecoder;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * Inflates the client's compressed messages (permessage-deflate, RFC 7692), never past the message
 * limit. Every byte from the network is hostile: a 64 KB frame of deflated zeros inflates to 64 MB, so
 * this counts what it inflates, across the fragments of a message, and stops at {@code maxMessageBytes}
 * (the same limit the aggregator holds uncompressed messages to): the connection is failed with 1009
 * and the buffer it filled never grew past about twice the limit.
 *
 * <p>A data frame with RSV1 starts a compressed message; its continuation frames belong to it. Frames
 * without RSV1 and control frames pass untouched. Other reserved bits are left for
 * {@link WebSocketProtocol} to refuse. Each message is inflated with a fresh inflater, ended at the
 * message's last frame: {@link DeflateNegotiation} negotiates {@code client_no_context_takeover}, so no
 * window outlives a message and an idle connection holds no inflater at all.
 *
 * <p>Added to the pipeline by Netty's extension handler when the 101 answer names permessage-deflate;
 * {@link ChatSocket} looks for it to know that the connection takes compressed frames.
 *
 * <p>Threads: the connection's event loop.
 */
final class MessageInflater extends WebSocketExtensionDecoder {

    /** RFC 7692 7.2.2: the receiver appends the sync-flush tail the sender left off. */
    private static final byte[] TAIL = {0, 0, (byte) 0xff, (byte) 0xff};
    /** Output grows by at most this much past the limit before the limit is noticed. */
    private static final int CHUNK = 8 * 1024;
    /** Unused room in an inflated frame's buffer beyond which it is trimmed. */
    private static final int SLACK = 1024;

    private final int maxMessageBytes;
    /** The compressed message being read, or null between messages. */
    private Inflater inflater;
    /** Bytes the current message has inflated to so far. */
    private long inflated;
    /** Set once the connection failed: the data frames the client sends while it closes are dropped. */
    private boolean failed;

    MessageInflater(int maxMessageBytes) {
        this.maxMessageBytes = maxMessageBytes;
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, WebSocketFrame frame, List<Object> out) {
        boolean data = frame instanceof TextWebSocketFrame || frame instanceof BinaryWebSocketFrame
                || frame instanceof ContinuationWebSocketFrame;
        if (failed && data) {
            // Control frames still pass: the client's close frame ends the closing handshake.
            return;
        }
        boolean starts = (frame instanceof TextWebSocketFrame || frame instanceof BinaryWebSocketFrame)
                && (frame.rsv() & WebSocketExtension.RSV1) != 0;
        if (!starts && !(inflater != null && frame instanceof ContinuationWebSocketFrame)) {
            out.add(frame.retain());
            return;
        }
        if (frame instanceof ContinuationWebSocketFrame && (frame.rsv() & WebSocketExtension.RSV1) != 0) {
            throw fail(WebSocketCloseStatus.PROTOCOL_ERROR, "RSV1 is set only on a message's first frame");
        }
        if (starts) {
            endMessage();
            inflater = new Inflater(true);
            inflated = 0;
        }
        ByteBuf content = frame.content();
        ByteBuf plain = ctx.alloc().heapBuffer((int) Math.min(maxMessageBytes + 1L,
                Math.max(256, 3L * content.readableBytes())));
        try {
            inflate(content.nioBuffer(), plain);
            if (frame.isFinalFragment()) {
                if (!inflater.finished()) {
                    inflate(ByteBuffer.wrap(TAIL), plain);
                }
                endMessage();
            }
        } catch (RuntimeException e) {
            plain.release();
            throw e;
        }
        if (plain.writableBytes() > SLACK) {
            // The aggregator holds every fragment until the message is whole: hand it what was
            // inflated, not the room left for more (a thousand one-byte fragments would hold 8 MB).
            plain.capacity(plain.writerIndex());
        }
        int rsv = frame.rsv() & ~WebSocketExtension.RSV1;
        out.add(switch (frame) {
            case TextWebSocketFrame ignored -> new TextWebSocketFrame(frame.isFinalFragment(), rsv, plain);
            case BinaryWebSocketFrame ignored -> new BinaryWebSocketFrame(frame.isFinalFragment(), rsv, plain);
            default -> new ContinuationWebSocketFrame(frame.isFinalFragment(), rsv, plain);
        });
    }

    /** Inflates all of {@code input} into {@code plain}, failing the connection past the limit. */
    private void inflate(ByteBuffer input, ByteBuf plain) {
        if (inflater.finished()) {
            // The message's final deflate block has passed: nothing may follow it.
            if (input.hasRemaining()) {
                throw fail(WebSocketCloseStatus.INVALID_PAYLOAD_DATA, "data after the final deflate block");
            }
            return;
        }
        inflater.setInput(input);
        try {
            while (true) {
                plain.ensureWritable(CHUNK);
                int n = inflater.inflate(plain.array(), plain.arrayOffset() + plain.writerIndex(), plain.writableBytes());
                plain.writerIndex(plain.writerIndex() + n);
                inflated += n;
                if (inflated > maxMessageBytes) {
                    throw fail(WebSocketCloseStatus.MESSAGE_TOO_BIG,
                            "message larger than " + maxMessageBytes + " bytes once inflated");
                }
                if (inflater.finished()) {
                    if (inflater.getRemaining() > 0) {
                        throw fail(WebSocketCloseStatus.INVALID_PAYLOAD_DATA, "data after the final deflate block");
                    }
                    return;
                }
                if (n == 0 && inflater.needsInput()) {
                    return;
                }
                if (n == 0) {
                    // Neither output nor a need for input: the stream wants a preset dictionary.
                    throw fail(WebSocketCloseStatus.INVALID_PAYLOAD_DATA, "invalid compressed data");
                }
            }
        } catch (DataFormatException e) {
            throw fail(WebSocketCloseStatus.INVALID_PAYLOAD_DATA, "invalid compressed data");
        }
    }

    private CorruptedWebSocketFrameException fail(WebSocketCloseStatus status, String reason) {
        failed = true;
        endMessage();
        return new CorruptedWebSocketFrameException(status, reason);
    }

    private void endMessage() {
        if (inflater != null) {
            inflater.end();
            inflater = null;
        }
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) throws Exception {
        endMessage();
        super.handlerRemoved(ctx);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        endMessage();
        super.channelInactive(ctx);
    }
}
