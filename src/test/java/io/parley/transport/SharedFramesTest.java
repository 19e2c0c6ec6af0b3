package io.parley.transport;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.concurrent.FastThreadLocal;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * One broadcast is compressed once per event loop, not once per member: every member with deflate on
 * the loop gets a duplicate of the same buffer, and members without it get the plain frame.
 */
class SharedFramesTest {

    private final EmbeddedChannel channel = new EmbeddedChannel(new ChannelInboundHandlerAdapter());
    private final ChannelHandlerContext ctx = channel.pipeline().firstContext();

    @AfterEach
    void releaseTheCachedFrames() {
        // The test thread is not an event loop: give its cached frames back as a loop's end would.
        FastThreadLocal.removeAll();
        channel.finishAndReleaseAll();
    }

    @Test
    void aBroadcastIsCompressedOnceAndSharedByEveryDeflateMember() {
        byte[] payload = ("{\"type\":\"message\",\"room\":\"lobby\",\"seq\":7,\"from\":\"ada\",\"text\":\""
                + CompressionTest.chatLines(1).getFirst() + "\"}").getBytes(StandardCharsets.UTF_8);
        ByteBuf first = SharedFrames.frame(ctx, payload, true);
        ByteBuf second = SharedFrames.frame(ctx, payload, true);
        ByteBuf plain = SharedFrames.frame(ctx, payload, false);
        try {
            // One buffer behind both: its reference count is shared (the loop's cache holds one, each
            // member one), so the second member cost a duplicate, not a compression.
            assertThat(first.refCnt()).isEqualTo(3);
            assertThat(second.refCnt()).isEqualTo(3);
            second.release();
            assertThat(first.refCnt()).isEqualTo(2);
            second.retain();
            assertThat(plain.refCnt()).as("the plain frame is another buffer").isEqualTo(2);
            byte[] compressed = ByteBufUtil.getBytes(first);
            assertThat(compressed[0] & 0xff).as("FIN, RSV1, text").isEqualTo(0xC1);
            assertThat(ByteBufUtil.getBytes(plain)[0] & 0xff).as("FIN, text").isEqualTo(0x81);
            assertThat(compressed.length).isLessThan(ByteBufUtil.getBytes(plain).length);
            String inflated = CompressionTest.inflate(Arrays.copyOfRange(compressed, 2, compressed.length));
            assertThat(inflated).isEqualTo(new String(payload, StandardCharsets.UTF_8));
        } finally {
            first.release();
            second.release();
            plain.release();
        }
    }

    @Test
    void eachMessageIsCompressedOnItsOwnWithoutContext() {
        // The same text twice as two messages: with context the second would be a few bytes.
        byte[] a = ("{\"text\":\"" + CompressionTest.chatLines(1).getFirst() + "\"}").getBytes(StandardCharsets.UTF_8);
        byte[] b = a.clone();
        ByteBuf first = SharedFrames.frame(ctx, a, true);
        ByteBuf second = SharedFrames.frame(ctx, b, true);
        try {
            assertThat(ByteBufUtil.getBytes(second)).isEqualTo(ByteBufUtil.getBytes(first));
        } finally {
            first.release();
            second.release();
        }
    }

    @Test
    void aShortReplyGoesPlainEvenToADeflateMember() {
        byte[] ack = "{\"type\":\"ack\",\"id\":\"m1\",\"room\":\"lobby\",\"seq\":3}".getBytes(StandardCharsets.UTF_8);
        ByteBuf frame = SharedFrames.frame(ctx, ack, true);
        try {
            byte[] bytes = ByteBufUtil.getBytes(frame);
            assertThat(bytes[0] & 0xff).isEqualTo(0x81);
            assertThat(new String(bytes, 2, bytes.length - 2, StandardCharsets.UTF_8))
                    .isEqualTo(new String(ack, StandardCharsets.UTF_8));
        } finally {
            frame.release();
        }
    }

    @Test
    void aBatchIsFramedOnceBackToBackAndSharedByEveryMemberThatTakesItWhole() {
        byte[][] batch = {
            "{\"type\":\"message\",\"seq\":1,\"text\":\"one\"}".getBytes(StandardCharsets.UTF_8),
            ("{\"type\":\"message\",\"seq\":2,\"text\":\"" + CompressionTest.chatLines(1).getFirst() + "\"}")
                    .getBytes(StandardCharsets.UTF_8),
            "x".repeat(70_000).getBytes(StandardCharsets.UTF_8), // a 64-bit length header
        };
        for (boolean deflate : new boolean[] {false, true}) {
            ByteBuf first = SharedFrames.frames(ctx, batch, deflate);
            ByteBuf second = SharedFrames.frames(ctx, batch, deflate);
            ByteBuf[] oneByOne = new ByteBuf[batch.length];
            try {
                assertThat(second.refCnt()).as("one buffer behind both members' writes").isEqualTo(3);
                byte[] expected = new byte[0];
                for (int i = 0; i < batch.length; i++) {
                    oneByOne[i] = SharedFrames.frame(ctx, batch[i], deflate);
                    byte[] framed = ByteBufUtil.getBytes(oneByOne[i]);
                    byte[] joined = Arrays.copyOf(expected, expected.length + framed.length);
                    System.arraycopy(framed, 0, joined, expected.length, framed.length);
                    expected = joined;
                }
                assertThat(ByteBufUtil.getBytes(first)).as("deflate " + deflate + ": the frames, in order, as framed alone")
                        .isEqualTo(expected);
                assertThat(ByteBufUtil.getBytes(second)).isEqualTo(expected);
            } finally {
                first.release();
                second.release();
                for (ByteBuf f : oneByOne) {
                    if (f != null) {
                        f.release();
                    }
                }
            }
        }
    }
}
