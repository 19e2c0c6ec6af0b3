package io.parley.bench;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

/**
 * Splits the bytes a server sends into WebSocket frames (RFC 6455 §5.2) for the lean client, without
 * copying or allocating for frames that arrive whole.
 *
 * <p>Frames are handed to the {@link Sink} as a range of the buffer they arrived in, valid only during
 * the call. A frame that a read splits (its header or its payload) is the only thing copied: its first
 * part goes into a buffer this reader keeps for the connection and reuses, and just enough of the next
 * read to complete it follows; the rest of that read is parsed in place again. At 64 KB reads of
 * 200-byte frames that copies about one frame in three hundred.
 *
 * <p>Frames from a server are never masked (§5.1); a masked one, reserved bits, or a payload longer
 * than {@code maxPayload} are protocol errors: the connection is not worth reading further.
 *
 * <p>Threads: one connection's event loop only.
 */
final class FrameReader {

    static final int OP_CONTINUATION = 0x0;
    static final int OP_TEXT = 0x1;
    static final int OP_BINARY = 0x2;
    static final int OP_CLOSE = 0x8;
    static final int OP_PING = 0x9;
    static final int OP_PONG = 0xA;

    /** Receives whole frames: the payload is {@code buf[from, from + length)}. */
    interface Sink {
        void frame(boolean fin, int opcode, ByteBuf buf, int from, int length);
    }

    /** The server broke the framing rules; the connection must be closed. */
    static final class ProtocolError extends Exception {
        ProtocolError(String message) {
            super(message, null, false, false);
        }
    }

    private final int maxPayload;
    private final ByteBufAllocator alloc;
    /** The start of a frame split by a read; allocated on the first split, then reused. */
    private ByteBuf partial;

    FrameReader(ByteBufAllocator alloc, int maxPayload) {
        this.alloc = alloc;
        this.maxPayload = maxPayload;
    }

    /** Hands every whole frame in {@code in} (after any split frame) to {@code sink}; consumes all of {@code in}. */
    void read(ByteBuf in, Sink sink) throws ProtocolError {
        if (partial != null && partial.isReadable() && !completePartial(in, sink)) {
            return;
        }
        int at = in.readerIndex();
        int end = in.writerIndex();
        while (at < end) {
            long size = frameSize(in, at, end - at);
            if (size < 0 || at + size > end) {
                break;
            }
            dispatch(in, at, sink);
            at += (int) size;
        }
        in.readerIndex(end);
        if (at < end) {
            if (partial == null) {
                partial = alloc.heapBuffer(Math.max(256, end - at));
            }
            partial.writeBytes(in, at, end - at);
        }
    }

    /** Frees the buffer kept for split frames; call once the connection is gone. */
    void release() {
        if (partial != null) {
            partial.release();
            partial = null;
        }
    }

    /**
     * Moves bytes from {@code in} into {@link #partial} until its frame is whole, then dispatches it.
     * Returns false when {@code in} ran out first.
     */
    private boolean completePartial(ByteBuf in, Sink sink) throws ProtocolError {
        while (true) {
            int have = partial.readableBytes();
            long size = frameSize(partial, partial.readerIndex(), have);
            long target = size < 0 ? -size : size;
            int copy = (int) Math.min(target - have, in.readableBytes());
            partial.writeBytes(in, copy);
            if (partial.readableBytes() < target) {
                return false;
            }
            if (size >= 0) {
                dispatch(partial, partial.readerIndex(), sink);
                partial.clear();
                return true;
            }
            // Only the header was whole: now its length is known, go round for the payload.
        }
    }

    /**
     * The whole frame's size in bytes (header and payload) when its header is within
     * {@code available} bytes at {@code at}; otherwise minus the header's size so far as known.
     */
    private long frameSize(ByteBuf buf, int at, int available) throws ProtocolError {
        if (available < 2) {
            return -2;
        }
        int first = buf.getUnsignedByte(at);
        int second = buf.getUnsignedByte(at + 1);
        if ((first & 0x70) != 0) {
            throw new ProtocolError("reserved bits set without an extension");
        }
        if ((second & 0x80) != 0) {
            throw new ProtocolError("masked frame from the server");
        }
        int length7 = second & 0x7F;
        int header = length7 == 126 ? 4 : length7 == 127 ? 10 : 2;
        if (available < header) {
            return -header;
        }
        long length = switch (header) {
            case 4 -> buf.getUnsignedShort(at + 2);
            case 10 -> buf.getLong(at + 2);
            default -> length7;
        };
        if (length < 0 || length > maxPayload) {
            throw new ProtocolError("frame of " + Long.toUnsignedString(length) + " bytes, over the limit of "
                    + maxPayload);
        }
        if ((first & 0x08) != 0 && (length > 125 || (first & 0x80) == 0)) {
            throw new ProtocolError("control frame fragmented or over 125 bytes");
        }
        return header + length;
    }

    private static void dispatch(ByteBuf buf, int at, Sink sink) {
        int first = buf.getUnsignedByte(at);
        int length7 = buf.getUnsignedByte(at + 1) & 0x7F;
        int header = length7 == 126 ? 4 : length7 == 127 ? 10 : 2;
        int length = switch (header) {
            case 4 -> buf.getUnsignedShort(at + 2);
            case 10 -> (int) buf.getLong(at + 2);
            default -> length7;
        };
        sink.frame((first & 0x80) != 0, first & 0x0F, buf, at + header, length);
    }
}
