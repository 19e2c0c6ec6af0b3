package io.parley.transport;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocket08FrameEncoder;
import io.netty.util.concurrent.FastThreadLocal;

import java.util.ArrayList;
import java.util.List;

/**
 * Frames a broadcast once per event loop instead of once per subscriber.
 *
 * <p>A server's text frame carries no mask and Parley negotiates no extensions, so the framed bytes of
 * a broadcast are the same for every member. Netty's own {@link WebSocket08FrameEncoder} frames the
 * payload the first time an event loop delivers it; every member on that loop then gets a retained
 * duplicate of the same buffer, which passes the pipeline's frame encoder untouched (it only encodes
 * {@code WebSocketFrame}s). The engine hands a loop one broadcast to all its members before the next
 * (see the engine's {@code LoopTasks}), so remembering the last payload is enough. In a fan-out profile
 * the per-subscriber encoder and its buffer allocation were a quarter of the server's samples.
 *
 * <p>The last frame stays cached (one per loop) until the next broadcast replaces it or the loop's
 * thread ends; each member's duplicate is released by Netty when its write completes or fails (a
 * connection that closed between {@code deliver} and its flush included).
 *
 * <p>Threads: one instance per event loop, used only by it.
 */
final class SharedFrames extends WebSocket08FrameEncoder {

    private static final FastThreadLocal<SharedFrames> PER_LOOP = new FastThreadLocal<>() {
        @Override
        protected SharedFrames initialValue() {
            return new SharedFrames();
        }

        /** The loop's thread is ending (Netty removes its thread locals then): give the last frame back. */
        @Override
        protected void onRemoval(SharedFrames frames) {
            frames.forget();
        }
    };

    private byte[] lastPayload;
    private ByteBuf lastFrame;

    private SharedFrames() {
        super(false);
    }

    /** The framed text message for {@code payload}, ready to write; the caller owns the reference. */
    static ByteBuf frame(ChannelHandlerContext ctx, byte[] payload) {
        return PER_LOOP.get().framed(ctx, payload);
    }

    private ByteBuf framed(ChannelHandlerContext ctx, byte[] payload) {
        if (payload != lastPayload) {
            if (lastFrame != null) {
                lastFrame.release();
            }
            lastFrame = encodeOnce(ctx, payload);
            lastPayload = payload;
        }
        return lastFrame.retainedDuplicate();
    }

    private void forget() {
        if (lastFrame != null) {
            lastFrame.release();
            lastFrame = null;
            lastPayload = null;
        }
    }

    private ByteBuf encodeOnce(ChannelHandlerContext ctx, byte[] payload) {
        TextWebSocketFrame frame = new TextWebSocketFrame(Unpooled.wrappedBuffer(payload));
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
