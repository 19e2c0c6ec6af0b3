package io.parley.bench;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.security.SecureRandom;

/**
 * Builds the frames the lean client sends: every one masked with a fresh key (RFC 6455 §5.3), because
 * a server must close the connection on an unmasked client frame, and an intermediary can be poisoned
 * by predictable payloads. The keys come from a {@link SecureRandom}, as §5.3 asks for a strong source
 * of entropy; a client sends a few thousand frames a second at most (hello, join, sends, closes), so
 * its cost does not matter. Deliveries, the heavy direction, are never written here.
 *
 * <p>Thread-safe: {@link SecureRandom} is.
 */
final class FrameWriter {

    private final SecureRandom keys = new SecureRandom();

    /** A masked text frame carrying {@code payload}. */
    ByteBuf text(ByteBufAllocator alloc, byte[] payload) {
        return frame(alloc, FrameReader.OP_TEXT, payload, keys.nextInt());
    }

    /** A masked close frame with {@code status} and no reason. */
    ByteBuf close(ByteBufAllocator alloc, int status) {
        return frame(alloc, FrameReader.OP_CLOSE, new byte[] {(byte) (status >> 8), (byte) status}, keys.nextInt());
    }

    /** A masked pong echoing a ping's payload. */
    ByteBuf pong(ByteBufAllocator alloc, ByteBuf ping, int from, int length) {
        byte[] payload = new byte[length];
        ping.getBytes(from, payload);
        return frame(alloc, FrameReader.OP_PONG, payload, keys.nextInt());
    }

    /** One final frame of {@code opcode}, masked with {@code key}. */
    static ByteBuf frame(ByteBufAllocator alloc, int opcode, byte[] payload, int key) {
        int length = payload.length;
        ByteBuf frame = alloc.buffer(14 + length);
        frame.writeByte(0x80 | opcode);
        if (length < 126) {
            frame.writeByte(0x80 | length);
        } else if (length <= 0xFFFF) {
            frame.writeByte(0x80 | 126).writeShort(length);
        } else {
            frame.writeByte(0x80 | 127).writeLong(length);
        }
        frame.writeInt(key);
        for (int i = 0; i < length; i++) {
            frame.writeByte(payload[i] ^ (key >>> (24 - 8 * (i & 3))));
        }
        return frame;
    }
}
