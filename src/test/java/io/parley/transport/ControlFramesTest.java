package io.parley.transport;

import io.parley.config.ServerConfig;
import io.parley.testing.RawSocket;
import io.parley.testing.TestServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Pings and pongs are frames like any other: they count against the connection's frame rate, and the
 * pongs the server answers with count against its outbound backlog. Netty used to answer pings itself,
 * past both checks, and four clients that pinged and never read took a server down.
 */
class ControlFramesTest {

    private static final int PONG = 0xA;

    @TempDir
    Path dir;

    @Test
    void pingsAreAnsweredWithTheirPayloadBeforeHello() throws Exception {
        try (TestServer server = TestServer.start(dir); RawSocket raw = new RawSocket(server.port())) {
            raw.upgrade();
            raw.frame(RawSocket.PING, true, "still there?".getBytes(StandardCharsets.UTF_8), true);
            RawSocket.Frame pong = raw.readFrame();
            assertThat(pong.opcode()).isEqualTo(PONG);
            assertThat(pong.text()).isEqualTo("still there?");
        }
    }

    @Test
    void pingsOverTheFrameRateCloseWith1008() throws Exception {
        try (TestServer server = TestServer.start(dir); RawSocket raw = new RawSocket(server.port())) {
            raw.upgrade();
            // The default rate is 50 frames a second with bursts of 100: 150 at once go over it.
            raw.write(frames(RawSocket.PING, 150, 125));
            raw.timeout(5_000);
            int pongs = 0;
            RawSocket.Frame f;
            while ((f = raw.readFrame()).opcode() == PONG) {
                pongs++;
            }
            assertThat(f.opcode()).isEqualTo(RawSocket.CLOSE);
            assertThat(f.closeCode()).isEqualTo(1008);
            assertThat(reason(f)).contains("too many frames").contains("50 a second");
            assertThat(pongs).as("pongs before the close").isBetween(100, 110);
        }
    }

    @Test
    void pongsCountAgainstTheFrameRateToo() throws Exception {
        try (TestServer server = TestServer.start(dir); RawSocket raw = new RawSocket(server.port())) {
            raw.upgrade();
            raw.write(frames(PONG, 150, 125));
            raw.timeout(5_000);
            RawSocket.Frame close = raw.readFrame();
            assertThat(close.opcode()).isEqualTo(RawSocket.CLOSE);
            assertThat(close.closeCode()).isEqualTo(1008);
        }
    }

    @Test
    void aClientThatPingsAndNeverReadsIsClosedAsASlowConsumer() throws Exception {
        long outbound = 64 * 1024;
        try (TestServer server = TestServer.start(dir, c -> TestServer.UNTHROTTLED.apply(c)
                .withLimits(c.maxFrameBytes(), c.maxMessageLength(), outbound));
             RawSocket raw = new RawSocket(server.port(), 4096)) {
            raw.upgrade();
            // No rate limit here: only the backlog can stop it. 16 MB of pings is four times what the
            // kernel's buffers and the outbound limit together can hold on loopback.
            byte[] burst = frames(RawSocket.PING, 256, 125);
            long sent = 0;
            try {
                while (sent < 16L * 1024 * 1024) {
                    raw.write(burst);
                    sent += burst.length;
                }
            } catch (IOException closedWhileSending) {
                // The server gave up waiting for the client to take its close frame.
            }
            // Now read: the pongs the kernel holds, then the close frame (1013) if it was still in
            // time, or the end of the connection. A server that kept every pong would send pongs
            // until the read times out.
            raw.timeout(10_000);
            assertThat(raw.awaitClose()).as("close code, or -1 for a dropped connection").isIn(1013, -1);
        }
    }

    /** {@code count} masked client frames of one opcode, each with a payload of {@code size} bytes. */
    private static byte[] frames(int opcode, int count, int size) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] payload = new byte[size];
        Arrays.fill(payload, (byte) 'p');
        for (int i = 0; i < count; i++) {
            out.write(0x80 | opcode);
            out.write(0x80 | size);
            // A zero masking key is a valid one, and leaves the payload as it is.
            out.writeBytes(new byte[4]);
            out.writeBytes(payload);
        }
        return out.toByteArray();
    }

    private static String reason(RawSocket.Frame close) {
        return new String(close.payload(), 2, close.payload().length - 2, StandardCharsets.UTF_8);
    }
}
