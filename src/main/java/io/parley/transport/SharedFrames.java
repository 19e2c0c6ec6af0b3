package io.parley.transport;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocket08FrameEncoder;
import io.netty.handler.codec.http.websocketx.extensions.WebSocketExtension;
import io.netty.util.concurrent.FastThreadLocal;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.zip.Deflater;

/**
 * Frames a broadcast once per event loop instead of once per subscriber, and compresses it once per
 * event loop for the members that negotiated permessage-deflate.
 *
 * <p>A server's text frame carries no mask, so the framed bytes of a broadcast are the same for every
 * member. Netty's own {@link WebSocket08FrameEncoder} frames the payload the first time an event loop
 * delivers it; every member on that loop then gets a retained duplicate of the same buffer, which passes
 * the pipeline's frame encoder untouched (it only encodes {@code WebSocketFrame}s), and passes the
 * per-connection deflate encoder of {@link DeflateNegotiation} untouched for the same reason. The engine
 * hands a loop one broadcast to all its members before the next (see the engine's
 * {@code LoopTasks}), so
 * remembering the last payload is enough. In a fan-out profile the per-subscriber encoder and its buffer
 * allocation were a quarter of the server's samples.
 *
 * <p>Compressed frames are shared the same way. Every member with deflate negotiated
 * {@code server_no_context_takeover} and the default 15-bit server window ({@link DeflateNegotiation}
 * declines any other offer), so each message is compressed on its own, with a fresh compressor, and the
 * result is valid for all of them: one compression per loop, however many members the room has. A
 * payload that does not get smaller compressed (short acks, mostly) goes to them as the plain frame;
 * RFC 7692 lets every message choose.
 *
 * <p><b>Batches.</b> When a batch brings a room several messages, members that take all of them get
 * them as one buffer: the frames framed (and, for deflate, compressed) once per loop, back to back, so
 * each member costs one write, one promise and one outbound-buffer entry per batch rather than per
 * message. The batch is cached apart from the single frame, so a member that falls back to frame by
 * frame does not make the batch be framed again.
 *
 * <p>The last frames stay cached (one plain and one compressed per loop) until the next broadcast
 * replaces them or the loop's thread ends; each member's duplicate is released by Netty when its write
 * completes or fails (a connection that closed between {@code deliver} and its flush included).
 *
 * <p>Threads: one instance per event loop, used only by it.
 */
final class SharedFrames extends WebSocket08FrameEncoder {

    /**
     * Shorter payloads go uncompressed without trying: with no shared context, deflate of a few dozen
     * bytes of JSON comes out no smaller, and each try costs a compressor reset.
     */
    static final int MIN_DEFLATE_BYTES = 64;
    /** The 4 bytes a sync flush ends with; RFC 7692 has the sender leave them off. */
    private static final int SYNC_TAIL = 4;
    /** zlib's default level: on chat text, lower levels gave the same size for the same time (BENCHMARKS.md). */
    private static final int LEVEL = 6;

    private static final FastThreadLocal<SharedFrames> PER_LOOP = new FastThreadLocal<>() {
        @Override
        protected SharedFrames initialValue() {
            return new SharedFrames();
        }

        /** The loop's thread is ending (Netty removes its thread locals then): give the last frames back. */
        @Override
        protected void onRemoval(SharedFrames frames) {
            frames.forget();
            frames.forgetBatch();
            if (frames.deflater != null) {
                frames.deflater.end();
            }
        }
    };

    private byte[] lastPayload;
    private ByteBuf lastFrame;
    /** The last payload framed for members with deflate: compressed, or the plain frame again. */
    private ByteBuf lastDeflated;
    /** Created on the loop's first compressed delivery; reset for every message (no context takeover). */
    private Deflater deflater;
    private byte[] deflated = new byte[1024];

    /** The last batch framed back to back, plain and for members with deflate. */
    private byte[][] lastBatch;
    private ByteBuf lastBatchFrames;
    private ByteBuf lastBatchDeflated;

    private SharedFrames() {
        super(false);
    }

    /**
     * The framed text message for {@code payload}, ready to write; the caller owns the reference. With
     * {@code deflate}, the frame is compressed (RSV1 set) when that makes it smaller.
     */
    static ByteBuf frame(ChannelHandlerContext ctx, byte[] payload, boolean deflate) {
        return PER_LOOP.get().framed(ctx, payload, deflate);
    }

    private ByteBuf framed(ChannelHandlerContext ctx, byte[] payload, boolean deflate) {
        if (payload != lastPayload) {
            forget();
            lastPayload = payload;
        }
        if (deflate) {
            if (lastDeflated == null) {
                lastDeflated = compressOnce(ctx, payload);
            }
            return lastDeflated.retainedDuplicate();
        }
        return plain(ctx, payload).retainedDuplicate();
    }

    /**
     * The framed text messages for {@code payloads}, back to back in one buffer, ready to write as one;
     * the caller owns the reference. With {@code deflate}, each is compressed when that makes it smaller.
     */
    static ByteBuf frames(ChannelHandlerContext ctx, byte[][] payloads, boolean deflate) {
        return PER_LOOP.get().framedBatch(ctx, payloads, deflate);
    }

    private ByteBuf framedBatch(ChannelHandlerContext ctx, byte[][] payloads, boolean deflate) {
        if (payloads != lastBatch) {
            forgetBatch();
            lastBatch = payloads;
        }
        if (deflate) {
            if (lastBatchDeflated == null) {
                lastBatchDeflated = backToBack(ctx, payloads, true);
            }
            return lastBatchDeflated.retainedDuplicate();
        }
        if (lastBatchFrames == null) {
            lastBatchFrames = backToBack(ctx, payloads, false);
        }
        return lastBatchFrames.retainedDuplicate();
    }

    /** Frames each payload (through the single-frame cache) and copies them into one buffer. */
    private ByteBuf backToBack(ChannelHandlerContext ctx, byte[][] payloads, boolean deflate) {
        ByteBuf[] framed = new ByteBuf[payloads.length];
        int size = 0;
        try {
            for (int i = 0; i < payloads.length; i++) {
                framed[i] = framed(ctx, payloads[i], deflate);
                size += framed[i].readableBytes();
            }
            ByteBuf all = ctx.alloc().directBuffer(size);
            for (ByteBuf f : framed) {
                all.writeBytes(f, f.readerIndex(), f.readableBytes());
            }
            return all;
        } finally {
            for (ByteBuf f : framed) {
                if (f != null) {
                    f.release();
                }
            }
        }
    }

    private void forgetBatch() {
        if (lastBatchFrames != null) {
            lastBatchFrames.release();
            lastBatchFrames = null;
        }
        if (lastBatchDeflated != null) {
            lastBatchDeflated.release();
            lastBatchDeflated = null;
        }
        lastBatch = null;
    }

    private ByteBuf plain(ChannelHandlerContext ctx, byte[] payload) {
        if (lastFrame == null) {
            lastFrame = encodeOnce(ctx, new TextWebSocketFrame(Unpooled.wrappedBuffer(payload)));
        }
        return lastFrame;
    }

    private void forget() {
        if (lastFrame != null) {
            lastFrame.release();
            lastFrame = null;
        }
        if (lastDeflated != null) {
            lastDeflated.release();
            lastDeflated = null;
        }
        lastPayload = null;
    }

    /** The compressed frame, or (retained) the plain one when compression would not make it smaller. */
    private ByteBuf compressOnce(ChannelHandlerContext ctx, byte[] payload) {
        int size = payload.length >= MIN_DEFLATE_BYTES ? deflate(payload) : payload.length;
        if (size >= payload.length) {
            return plain(ctx, payload).retain();
        }
        ByteBuf compressed = Unpooled.copiedBuffer(deflated, 0, size);
        return encodeOnce(ctx, new TextWebSocketFrame(true, WebSocketExtension.RSV1, compressed));
    }

    /**
     * Compresses {@code payload} into {@link #deflated} as one message of RFC 7692: raw deflate ended
     * by a sync flush, whose empty-block tail is left off. Returns the compressed length.
     */
    private int deflate(byte[] payload) {
        if (deflater == null) {
            deflater = new Deflater(LEVEL, true);
        }
        deflater.reset();
        deflater.setInput(payload);
        int size = 0;
        while (true) {
            size += deflater.deflate(deflated, size, deflated.length - size, Deflater.SYNC_FLUSH);
            // A sync flush is complete when it leaves room to spare; otherwise it wants more room.
            if (size < deflated.length) {
                return size - SYNC_TAIL;
            }
            deflated = Arrays.copyOf(deflated, deflated.length * 2);
        }
    }

    private ByteBuf encodeOnce(ChannelHandlerContext ctx, TextWebSocketFrame frame) {
        List<Object> out = new ArrayList<>(2);
        try {
            encode(ctx, frame, out);
        } catch (Exception e) {
            out.forEach(o -> ((ByteBuf) o).release());
            throw new IllegalStateException("cannot frame a text message", e);
        } finally {
            frame.release();
        }
        // Small payloads come back as one buffer, large ones as header plus payload.
        return out.size() == 1 ? (ByteBuf) out.getFirst() : Unpooled.wrappedBuffer(out.toArray(ByteBuf[]::new));
    }
}
