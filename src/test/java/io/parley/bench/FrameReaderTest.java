package io.parley.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.buffer.UnpooledByteBufAllocator;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The lean client's frame parsing and writing, on bytes made here: whatever way the socket splits the
 * stream, the same frames come out, and every frame the client writes is masked with its own key.
 */
class FrameReaderTest {

    /** A frame as the reader handed it over. */
    private record Seen(boolean fin, int opcode, byte[] payload) {
        @Override
        public boolean equals(Object other) {
            return other instanceof Seen seen && seen.fin == fin && seen.opcode == opcode
                    && Arrays.equals(seen.payload, payload);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(payload);
        }

        @Override
        public String toString() {
            return "Seen[fin=" + fin + ", opcode=" + opcode + ", " + payload.length + " bytes]";
        }
    }

    private static final Random RANDOM = new Random(42);
    /**
     * Unpooled and untracked: the split test makes 130,000 readers, and leak tracking (paranoid in the
     * build) records a stack trace at every access to a tracked buffer.
     */
    private static final ByteBufAllocator ALLOC = new UnpooledByteBufAllocator(false, true);

    /** A short text, a 16-bit length, a ping between fragments, a 64-bit length, an empty frame. */
    private static final List<Seen> FRAMES = List.of(
            new Seen(true, FrameReader.OP_TEXT, "{\"type\":\"message\",\"seq\":1}".getBytes(StandardCharsets.US_ASCII)),
            new Seen(true, FrameReader.OP_TEXT, bytes(126)),
            new Seen(false, FrameReader.OP_TEXT, bytes(300)),
            new Seen(true, FrameReader.OP_PING, bytes(125)),
            new Seen(true, FrameReader.OP_CONTINUATION, bytes(65_535)),
            new Seen(true, FrameReader.OP_BINARY, bytes(65_536 + 17)),
            new Seen(true, FrameReader.OP_TEXT, new byte[0]));

    /**
     * Every boundary of the stream, except that inside the long payloads (past their first and before
     * their last 300 bytes) only every 97th: a split there takes the same path as its neighbours, and
     * all 130,000 would take the test half a minute on a busy machine.
     */
    @Test
    void everySplitOfTheStreamYieldsTheSameFrames() throws Exception {
        byte[] stream = stream(FRAMES);
        List<int[]> longPayloads = new ArrayList<>();
        int at = 0;
        for (Seen frame : FRAMES) {
            int length = frame.payload.length;
            int header = length < 126 ? 2 : length <= 0xFFFF ? 4 : 10;
            if (length > 1_000) {
                longPayloads.add(new int[] {at + header + 300, at + header + length - 300});
            }
            at += header + length;
        }
        for (int split = 0; split <= stream.length; split++) {
            int point = split;
            if (point % 97 != 0 && longPayloads.stream().anyMatch(range -> point > range[0] && point < range[1])) {
                continue;
            }
            List<Seen> seen = readInPieces(stream, split);
            if (!seen.equals(FRAMES)) {
                assertThat(seen).as("split at byte " + split).isEqualTo(FRAMES);
            }
        }
    }

    @Test
    void aStreamArrivingOneByteAtATimeYieldsTheSameFrames() throws Exception {
        byte[] stream = stream(FRAMES);
        List<Seen> seen = new ArrayList<>();
        FrameReader reader = new FrameReader(ALLOC, LeanMember.MAX_PAYLOAD);
        for (byte b : stream) {
            ByteBuf in = Unpooled.wrappedBuffer(new byte[] {b});
            reader.read(in, (fin, opcode, buf, from, length) -> seen.add(copy(fin, opcode, buf, from, length)));
            assertThat(in.isReadable()).isFalse();
        }
        reader.release();
        assertThat(seen).isEqualTo(FRAMES);
    }

    @Test
    void framesAServerMustNotSendAreProtocolErrors() {
        FrameReader reader = new FrameReader(ALLOC, 1024);
        assertThatThrownBy(() -> reader.read(Unpooled.wrappedBuffer(new byte[] {(byte) 0x81, (byte) 0x81, 1, 2, 3, 4, 5}),
                (fin, opcode, buf, from, length) -> { }))
                .isInstanceOf(FrameReader.ProtocolError.class).hasMessageContaining("masked");
        assertThatThrownBy(() -> reader.read(Unpooled.wrappedBuffer(new byte[] {(byte) 0x81, 127, 0, 0, 0, 0, 0, 0, 4, 1}),
                (fin, opcode, buf, from, length) -> { }))
                .isInstanceOf(FrameReader.ProtocolError.class).hasMessageContaining("over the limit of 1024");
        assertThatThrownBy(() -> reader.read(Unpooled.wrappedBuffer(new byte[] {(byte) 0x81, 127, (byte) 0x80, 0, 0, 0, 0, 0, 0, 1}),
                (fin, opcode, buf, from, length) -> { }))
                .isInstanceOf(FrameReader.ProtocolError.class);
        assertThatThrownBy(() -> reader.read(Unpooled.wrappedBuffer(new byte[] {(byte) 0xC1, 0}),
                (fin, opcode, buf, from, length) -> { }))
                .isInstanceOf(FrameReader.ProtocolError.class).hasMessageContaining("reserved");
        assertThatThrownBy(() -> reader.read(Unpooled.wrappedBuffer(new byte[] {(byte) 0x09, 0}),
                (fin, opcode, buf, from, length) -> { }))
                .isInstanceOf(FrameReader.ProtocolError.class).hasMessageContaining("control frame");
    }

    @Test
    void everyClientFrameIsMaskedWithAFreshKeyAndUnmasksToItsPayload() {
        FrameWriter writer = new FrameWriter();
        byte[] payload = "{\"type\":\"send\",\"room\":\"bench\",\"id\":\"m1\",\"text\":\"hello\"}"
                .getBytes(StandardCharsets.UTF_8);
        List<Integer> keys = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            ByteBuf frame = writer.text(ALLOC, payload);
            assertThat((int) frame.getUnsignedByte(0)).isEqualTo(0x81);
            assertThat((int) frame.getUnsignedByte(1)).isEqualTo(0x80 | payload.length);
            int key = frame.getInt(2);
            keys.add(key);
            byte[] unmasked = new byte[payload.length];
            for (int j = 0; j < payload.length; j++) {
                unmasked[j] = (byte) (frame.getByte(6 + j) ^ (key >>> (24 - 8 * (j % 4))));
            }
            assertThat(unmasked).isEqualTo(payload);
            assertThat(ByteBufUtil.getBytes(frame, 6, payload.length)).isNotEqualTo(payload);
            frame.release();
        }
        assertThat(keys).doesNotHaveDuplicates();

        ByteBuf large = FrameWriter.frame(ALLOC, FrameReader.OP_TEXT, bytes(70_000), 0x01020304);
        assertThat((int) large.getUnsignedByte(1)).isEqualTo(0x80 | 127);
        assertThat(large.getLong(2)).isEqualTo(70_000);
        assertThat(large.getInt(10)).isEqualTo(0x01020304);
        assertThat(large.readableBytes()).isEqualTo(14 + 70_000);
        large.release();
    }

    private static List<Seen> readInPieces(byte[] stream, int split) throws FrameReader.ProtocolError {
        List<Seen> seen = new ArrayList<>();
        FrameReader reader = new FrameReader(ALLOC, LeanMember.MAX_PAYLOAD);
        FrameReader.Sink sink = (fin, opcode, buf, from, length) -> seen.add(copy(fin, opcode, buf, from, length));
        reader.read(Unpooled.wrappedBuffer(stream, 0, split), sink);
        reader.read(Unpooled.wrappedBuffer(stream, split, stream.length - split), sink);
        reader.release();
        return seen;
    }

    private static Seen copy(boolean fin, int opcode, ByteBuf buf, int from, int length) {
        return new Seen(fin, opcode, ByteBufUtil.getBytes(buf, from, length));
    }

    /** The frames as a server sends them: unmasked, each length in its shortest form. */
    private static byte[] stream(List<Seen> frames) {
        ByteBuf out = Unpooled.buffer();
        for (Seen frame : frames) {
            out.writeByte((frame.fin ? 0x80 : 0) | frame.opcode);
            int length = frame.payload.length;
            if (length < 126) {
                out.writeByte(length);
            } else if (length <= 0xFFFF) {
                out.writeByte(126).writeShort(length);
            } else {
                out.writeByte(127).writeLong(length);
            }
            out.writeBytes(frame.payload);
        }
        return ByteBufUtil.getBytes(out);
    }

    private static byte[] bytes(int length) {
        byte[] bytes = new byte[length];
        RANDOM.nextBytes(bytes);
        return bytes;
    }
}
