package io.parley.transport;

import com.fasterxml.jackson.databind.JsonNode;
import io.parley.testing.ChatText;
import io.parley.testing.DeflateClient;
import io.parley.testing.RawSocket;
import io.parley.testing.TestServer;
import io.parley.testing.WsClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.zip.Deflater;
import java.util.zip.Inflater;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * permessage-deflate (RFC 7692): negotiated when a client offers it, broadcasts compressed for the
 * members that did and plain for the rest, and a compressed message never inflated past the limit.
 */
class CompressionTest {

    /** What Chromium offers on every connection. */
    private static final String BROWSER_OFFER = "permessage-deflate; client_max_window_bits";
    private static final int RSV1 = 0x40;

    @TempDir
    Path dir;

    @Test
    void answersABrowsersOfferInThe101WithoutContextTakeover() throws Exception {
        try (TestServer server = TestServer.start(dir); RawSocket raw = new RawSocket(server.port())) {
            String head = raw.request(upgrade(BROWSER_OFFER));
            assertThat(head).startsWith("HTTP/1.1 101");
            String extensions = header(head, "sec-websocket-extensions");
            assertThat(extensions).startsWith("permessage-deflate")
                    .contains("server_no_context_takeover").contains("client_no_context_takeover")
                    .doesNotContain("max_window_bits");
        }
    }

    @Test
    void answersNoExtensionWhenNoneIsOffered() throws Exception {
        try (TestServer server = TestServer.start(dir); RawSocket raw = new RawSocket(server.port())) {
            String head = raw.upgrade();
            assertThat(head).startsWith("HTTP/1.1 101");
            assertThat(header(head, "sec-websocket-extensions")).isNull();
        }
    }

    @Test
    void withCompressionOffAnOfferIsAnsweredWithoutIt() throws Exception {
        try (TestServer server = TestServer.start(dir, c -> c.withAccess(c.access().withCompression(false)));
             RawSocket raw = new RawSocket(server.port())) {
            String head = raw.request(upgrade(BROWSER_OFFER));
            assertThat(head).startsWith("HTTP/1.1 101");
            assertThat(header(head, "sec-websocket-extensions")).isNull();
            // Nothing was negotiated, so a frame marked compressed breaks the protocol.
            raw.frame(RSV1 | RawSocket.TEXT, true, deflate("{\"type\":\"ping\"}".getBytes(StandardCharsets.UTF_8)), true);
            assertThat(raw.awaitClose()).isEqualTo(1002);
        }
    }

    @Test
    void declinesAnOfferThatNarrowsTheServersWindowButTakesTheNextOffer() throws Exception {
        try (TestServer server = TestServer.start(dir)) {
            try (RawSocket raw = new RawSocket(server.port())) {
                String head = raw.request(upgrade("permessage-deflate; server_max_window_bits=10"));
                assertThat(head).startsWith("HTTP/1.1 101");
                assertThat(header(head, "sec-websocket-extensions")).isNull();
            }
            try (RawSocket raw = new RawSocket(server.port())) {
                String head = raw.request(upgrade("permessage-deflate; server_max_window_bits=10, permessage-deflate"));
                assertThat(header(head, "sec-websocket-extensions")).startsWith("permessage-deflate")
                        .doesNotContain("server_max_window_bits");
            }
        }
    }

    @Test
    void anOfferWithAWindowThatIsNoNumberIsDeclinedNotFailed() throws Exception {
        try (TestServer server = TestServer.start(dir)) {
            for (String bits : List.of("abc", "99", "7", "-1", "015")) {
                try (RawSocket raw = new RawSocket(server.port())) {
                    String head = raw.request(upgrade("permessage-deflate; client_max_window_bits=" + bits));
                    assertThat(head).as(bits).startsWith("HTTP/1.1 101");
                    assertThat(header(head, "sec-websocket-extensions")).as(bits).isNull();
                }
            }
            try (RawSocket raw = new RawSocket(server.port())) {
                String head = raw.request(upgrade("permessage-deflate; client_max_window_bits=10"));
                assertThat(header(head, "sec-websocket-extensions")).contains("client_max_window_bits=10");
            }
        }
    }

    @Test
    void aDeflateClientGetsEveryBroadcastCompressedAndInOrder() throws Exception {
        try (TestServer server = TestServer.start(dir, TestServer.UNTHROTTLED);
             DeflateClient reader = DeflateClient.hello(server.chatUri(), "reader");
             WsClient writer = WsClient.hello(server.chatUri(), "writer")) {
            assertThat(reader.extensions()).startsWith("permessage-deflate");
            reader.join("lobby");
            writer.join("lobby");
            List<String> sent = chatLines(40);
            for (int i = 0; i < sent.size(); i++) {
                writer.say("lobby", "m" + i, sent.get(i));
            }
            assertThat(texts(reader, sent.size())).containsExactlyElementsOf(sent);
            // Every message broadcast is longer than the threshold and English: all went compressed.
            assertThat(reader.compressedFrames()).contains(true);
            assertThat(reader.compressedFrames().stream().filter(c -> c).count()).isGreaterThanOrEqualTo(sent.size());
        }
    }

    @Test
    void aMixedRoomGetsEveryBroadcastEachInItsOwnForm() throws Exception {
        try (TestServer server = TestServer.start(dir, TestServer.UNTHROTTLED);
             DeflateClient deflate1 = DeflateClient.hello(server.chatUri(), "deflate1");
             DeflateClient deflate2 = DeflateClient.hello(server.chatUri(), "deflate2");
             DeflateClient plainNetty = DeflateClient.connect(server.chatUri(), false);
             WsClient plainJdk = WsClient.hello(server.chatUri(), "jdk")) {
            plainNetty.send(Map.of("type", "hello", "name", "netty"));
            plainNetty.expect("welcome");
            for (DeflateClient c : List.of(deflate1, deflate2, plainNetty)) {
                c.join("mixed");
            }
            plainJdk.join("mixed");
            List<String> sent = chatLines(30);
            for (int i = 0; i < sent.size(); i++) {
                // Senders of both kinds: the deflate client's own message goes in compressed.
                if (i % 2 == 0) {
                    plainJdk.say("mixed", "j" + i, sent.get(i));
                } else {
                    deflate1.send(Map.of("type", "send", "room", "mixed", "id", "d" + i, "text", sent.get(i)));
                }
            }
            // Two senders interleave: the room's order is its sequence, the same for every member.
            List<String> roomOrder = new ArrayList<>();
            long lastSeq = 0;
            for (JsonNode m : plainJdk.collect("message", sent.size())) {
                assertThat(m.path("seq").asLong()).isGreaterThan(lastSeq);
                lastSeq = m.path("seq").asLong();
                roomOrder.add(m.path("text").asText());
            }
            assertThat(roomOrder).containsExactlyInAnyOrderElementsOf(sent);
            for (DeflateClient c : List.of(deflate1, deflate2, plainNetty)) {
                assertThat(texts(c, sent.size())).containsExactlyElementsOf(roomOrder);
            }
            assertThat(deflate2.compressedFrames()).contains(true);
            assertThat(plainNetty.compressedFrames()).doesNotContain(true);
            assertThat(plainNetty.extensions()).isNull();
        }
    }

    @Test
    void aCompressedMessageIsReadAndTheWelcomeComesBackCompressedOrPlain() throws Exception {
        try (TestServer server = TestServer.start(dir); RawSocket raw = new RawSocket(server.port())) {
            raw.request(upgrade(BROWSER_OFFER));
            raw.frame(RSV1 | RawSocket.TEXT, true, deflate("{\"type\":\"hello\",\"name\":\"ada\"}".getBytes(StandardCharsets.UTF_8)), true);
            JsonNode welcome = WsClient.JSON.readTree(readText(raw));
            assertThat(welcome.path("type").asText()).isEqualTo("welcome");
            assertThat(welcome.path("name").asText()).isEqualTo("ada");
        }
    }

    @Test
    void aCompressedMessageInFragmentsIsReadWhole() throws Exception {
        try (TestServer server = TestServer.start(dir); RawSocket raw = new RawSocket(server.port())) {
            raw.request(upgrade(BROWSER_OFFER));
            byte[] hello = deflate(("{\"type\":\"hello\",\"name\":\"grace\",\"note\":\"" + "spread over frames ".repeat(20)
                    + "\"}").getBytes(StandardCharsets.UTF_8));
            int third = hello.length / 3;
            raw.frame(RSV1 | RawSocket.TEXT, false, Arrays.copyOfRange(hello, 0, third), true);
            raw.frame(RawSocket.CONTINUATION, false, Arrays.copyOfRange(hello, third, 2 * third), true);
            raw.frame(RawSocket.CONTINUATION, true, Arrays.copyOfRange(hello, 2 * third, hello.length), true);
            JsonNode welcome = WsClient.JSON.readTree(readText(raw));
            assertThat(welcome.path("type").asText()).isEqualTo("welcome");
            assertThat(welcome.path("name").asText()).isEqualTo("grace");
        }
    }

    @Test
    void aSmallFrameThatInflatesPastTheLimitClosesWith1009() throws Exception {
        try (TestServer server = TestServer.start(dir); RawSocket raw = new RawSocket(server.port())) {
            raw.request(upgrade(BROWSER_OFFER));
            byte[] bomb = bomb(16 << 20);
            assertThat(bomb.length).as("the bomb fits in one frame under the limit").isLessThan(64 * 1024);
            raw.frame(RSV1 | RawSocket.TEXT, true, bomb, true);
            assertThat(raw.awaitClose()).isEqualTo(1009);
        }
    }

    @Test
    void aBombSpreadOverFragmentsClosesWith1009Too() throws Exception {
        try (TestServer server = TestServer.start(dir); RawSocket raw = new RawSocket(server.port())) {
            raw.request(upgrade(BROWSER_OFFER));
            byte[] bomb = bomb(16 << 20);
            int third = bomb.length / 3;
            // All three in one write: the server may close as soon as the first fragment inflates past
            // the limit, and a later write of ours would then race that close (broken pipe, seen in CI).
            ByteArrayOutputStream fragments = new ByteArrayOutputStream();
            fragments.writeBytes(RawSocket.encodeFrame(RSV1 | RawSocket.TEXT, false, Arrays.copyOfRange(bomb, 0, third), true));
            fragments.writeBytes(RawSocket.encodeFrame(RawSocket.CONTINUATION, false,
                    Arrays.copyOfRange(bomb, third, 2 * third), true));
            fragments.writeBytes(RawSocket.encodeFrame(RawSocket.CONTINUATION, true,
                    Arrays.copyOfRange(bomb, 2 * third, bomb.length), true));
            raw.write(fragments.toByteArray());
            assertThat(raw.awaitClose()).isEqualTo(1009);
        }
    }

    @Test
    void garbageMarkedCompressedClosesWith1007() throws Exception {
        try (TestServer server = TestServer.start(dir); RawSocket raw = new RawSocket(server.port())) {
            raw.request(upgrade(BROWSER_OFFER));
            raw.frame(RSV1 | RawSocket.TEXT, true, new byte[]{(byte) 0xff, (byte) 0xff, 1, 2, 3}, true);
            assertThat(raw.awaitClose()).isEqualTo(1007);
        }
    }

    @Test
    void aCompressedFrameWithoutNegotiationClosesWith1002() throws Exception {
        try (TestServer server = TestServer.start(dir); RawSocket raw = new RawSocket(server.port())) {
            raw.upgrade();
            // Valid UTF-8, so that only the reserved bit is wrong.
            raw.frame(RSV1 | RawSocket.TEXT, true, "{\"type\":\"ping\"}".getBytes(StandardCharsets.UTF_8), true);
            assertThat(raw.awaitClose()).isEqualTo(1002);
        }
    }

    // ---- helpers

    private static String upgrade(String extensions) {
        return "GET /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                + "Sec-WebSocket-Extensions: " + extensions + "\r\n\r\n";
    }

    private static String header(String head, String name) {
        for (String line : head.split("\r\n")) {
            int colon = line.indexOf(':');
            if (colon > 0 && line.substring(0, colon).trim().equalsIgnoreCase(name)) {
                return line.substring(colon + 1).trim();
            }
        }
        return null;
    }

    /** Chat-like lines: English, 50 to 200 characters. */
    static List<String> chatLines(int count) {
        return ChatText.lines(count, 42);
    }

    private static List<String> texts(DeflateClient c, int count) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            out.add(c.expect("message").path("text").asText());
        }
        return out;
    }

    /** One message as RFC 7692 has a sender compress it: raw deflate, sync flush, tail left off. */
    static byte[] deflate(byte[] plain) {
        Deflater deflater = new Deflater(Deflater.DEFAULT_COMPRESSION, true);
        try {
            deflater.setInput(plain);
            byte[] out = new byte[plain.length + 64];
            int n = deflater.deflate(out, 0, out.length, Deflater.SYNC_FLUSH);
            return Arrays.copyOf(out, n - 4);
        } finally {
            deflater.end();
        }
    }

    /** {@code inflated} bytes of spaces, deflated: a few KB on the wire. */
    static byte[] bomb(int inflated) {
        Deflater deflater = new Deflater(9, true);
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            byte[] spaces = new byte[1 << 16];
            Arrays.fill(spaces, (byte) ' ');
            byte[] buffer = new byte[1 << 16];
            for (int fed = 0; fed < inflated; fed += spaces.length) {
                deflater.setInput(spaces);
                while (!deflater.needsInput()) {
                    out.write(buffer, 0, deflater.deflate(buffer, 0, buffer.length, Deflater.NO_FLUSH));
                }
            }
            int n;
            while ((n = deflater.deflate(buffer, 0, buffer.length, Deflater.SYNC_FLUSH)) > 0) {
                out.write(buffer, 0, n);
                if (n < buffer.length) {
                    break;
                }
            }
            byte[] all = out.toByteArray();
            return Arrays.copyOf(all, all.length - 4);
        } finally {
            deflater.end();
        }
    }

    /** The next text frame's payload, inflated if it came compressed. */
    static String readText(RawSocket raw) throws IOException {
        while (true) {
            byte[] frame = readRawFrame(raw);
            int b0 = frame[0] & 0xff;
            byte[] payload = Arrays.copyOfRange(frame, 1, frame.length);
            if ((b0 & 0x0f) == RawSocket.TEXT) {
                return (b0 & RSV1) != 0 ? inflate(payload) : new String(payload, StandardCharsets.UTF_8);
            }
            if ((b0 & 0x0f) == RawSocket.CLOSE) {
                throw new IOException("closed");
            }
        }
    }

    /** First byte of the frame's header, then its payload. RawSocket's reader drops the RSV bits. */
    private static byte[] readRawFrame(RawSocket raw) throws IOException {
        DataInputStream in = new DataInputStream(raw.input());
        int b0 = in.readUnsignedByte();
        int b1 = in.readUnsignedByte();
        long length = b1 & 0x7f;
        if (length == 126) {
            length = in.readUnsignedShort();
        } else if (length == 127) {
            length = in.readLong();
        }
        byte[] frame = new byte[1 + (int) length];
        frame[0] = (byte) b0;
        in.readFully(frame, 1, (int) length);
        return frame;
    }

    static String inflate(byte[] compressed) {
        Inflater inflater = new Inflater(true);
        try {
            byte[] withTail = Arrays.copyOf(compressed, compressed.length + 4);
            withTail[compressed.length + 2] = (byte) 0xff;
            withTail[compressed.length + 3] = (byte) 0xff;
            inflater.setInput(withTail);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            byte[] buffer = new byte[4096];
            int n;
            while ((n = inflater.inflate(buffer)) > 0) {
                out.write(buffer, 0, n);
            }
            return out.toString(StandardCharsets.UTF_8);
        } catch (java.util.zip.DataFormatException e) {
            throw new AssertionError("server sent invalid deflate data", e);
        } finally {
            inflater.end();
        }
    }
}
