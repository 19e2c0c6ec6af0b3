package io.parley.transport;

import io.parley.testing.RawSocket;
import io.parley.testing.TestServer;
import io.parley.testing.WsClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What one HTTP connection may make the server do: requests the codec could not read whole are
 * answered and never served, pipelined requests wait their turn and are not read or answered while the
 * client leaves answers unread, and a request that starts but does not finish in time gets a 408.
 */
class HttpConnectionTest {

    private static final String HOST = "Host: 127.0.0.1\r\n";
    private static final String HANDSHAKE = "GET /chat HTTP/1.1\r\n" + HOST + "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";
    /** One header larger than the codec reads (8 KiB of headers), placed before the one that matters. */
    private static final String FILLER = "X-Filler: " + "a".repeat(9 * 1024) + "\r\n";

    @TempDir
    Path dir;

    @Test
    void headersPastTheLimitBeforeAForeignOriginAreAnswered431AndNeverUpgraded() throws Exception {
        try (TestServer server = TestServer.start(dir);
             RawSocket s = new RawSocket(server.port())) {
            String head = s.request(HANDSHAKE + FILLER + "Origin: https://evil.example\r\n\r\n");

            assertThat(head).startsWith("HTTP/1.1 431");
            assertThat(s.body(head)).contains("headers");
            assertThat(s.closedByServer()).isTrue();
        }
    }

    @Test
    void headersPastTheLimitBeforeABadTokenAreAnswered431NotUpgradedAsAGuest() throws Exception {
        try (TestServer server = TestServer.start(dir, c -> c.withAccess(
                c.access().withTokenSecret("the-test-secret-of-at-least-32-bytes!")));
             RawSocket s = new RawSocket(server.port())) {
            String head = s.request(HANDSHAKE + FILLER + "Authorization: Bearer not.a.token\r\n\r\n");

            assertThat(head).startsWith("HTTP/1.1 431");
            assertThat(s.closedByServer()).isTrue();
        }
    }

    @Test
    void headersPastTheLimitAre431OnTheApiAsJsonAndOnThePages() throws Exception {
        try (TestServer server = TestServer.start(dir)) {
            try (RawSocket s = new RawSocket(server.port())) {
                String head = s.request("GET /api/rooms/lobby/messages HTTP/1.1\r\n" + HOST + FILLER
                        + "Authorization: Bearer whatever\r\n\r\n");
                assertThat(head).startsWith("HTTP/1.1 431");
                assertThat(head).containsIgnoringCase("content-type: application/json");
                assertThat(WsClient.JSON.readTree(s.body(head)).path("code").asText()).isEqualTo("too_large");
                assertThat(s.closedByServer()).isTrue();
            }
            try (RawSocket s = new RawSocket(server.port())) {
                String head = s.request("GET / HTTP/1.1\r\n" + HOST + FILLER + "\r\n");
                assertThat(head).startsWith("HTTP/1.1 431");
                assertThat(s.closedByServer()).isTrue();
            }
        }
    }

    @Test
    void aRequestLineTooLongIs414() throws Exception {
        try (TestServer server = TestServer.start(dir);
             RawSocket s = new RawSocket(server.port())) {
            String head = s.request("GET /" + "a".repeat(5000) + " HTTP/1.1\r\n" + HOST + "\r\n");

            assertThat(head).startsWith("HTTP/1.1 414");
            assertThat(s.closedByServer()).isTrue();
        }
    }

    @Test
    void otherRequestsTheCodecCannotReadAre400AndNeverUpgraded() throws Exception {
        try (TestServer server = TestServer.start(dir)) {
            try (RawSocket s = new RawSocket(server.port())) {
                String head = s.request(HANDSHAKE + "Content-Length: lots\r\n\r\n");
                assertThat(head).startsWith("HTTP/1.1 400");
                assertThat(s.closedByServer()).isTrue();
            }
            try (RawSocket s = new RawSocket(server.port())) {
                String head = s.request("GET /healthz HTTP/1.1\r\n" + HOST + "Content-Length: 1\r\nContent-Length: 2\r\n\r\n");
                assertThat(head).startsWith("HTTP/1.1 400");
                assertThat(s.closedByServer()).isTrue();
            }
        }
    }

    @Test
    void aMalformedRequestPipelinedBehindAnotherIsAnsweredInItsTurn() throws Exception {
        try (TestServer server = TestServer.start(dir);
             RawSocket s = new RawSocket(server.port())) {
            s.write("GET /api/rooms/turns/messages?since=0&wait=1 HTTP/1.1\r\n" + HOST + "\r\n"
                    + HANDSHAKE + FILLER + "\r\n");

            String first = s.readHead();
            assertThat(first).startsWith("HTTP/1.1 200");
            assertThat(s.body(first)).contains("\"type\":\"history\"");
            assertThat(s.readHead()).startsWith("HTTP/1.1 431");
        }
    }

    @Test
    void aHandshakeRefusalPipelinedBehindALongPollWaitsForIt() throws Exception {
        try (TestServer server = TestServer.start(dir);
             RawSocket s = new RawSocket(server.port())) {
            s.write("GET /api/rooms/turns/messages?since=0&wait=1 HTTP/1.1\r\n" + HOST + "\r\n"
                    + "GET /chat HTTP/1.1\r\n" + HOST + "\r\n");

            assertThat(s.readHead()).as("the poll's answer comes first").startsWith("HTTP/1.1 200");
        }
    }

    @Test
    void requestsPipelinedPastTheQueueGetA429InTheirTurnAndTheConnectionEnds() throws Exception {
        try (TestServer server = TestServer.start(dir);
             RawSocket s = new RawSocket(server.port())) {
            StringBuilder burst = new StringBuilder("GET /api/rooms/queue/messages?since=0&wait=1 HTTP/1.1\r\n" + HOST + "\r\n");
            int extra = RequestQueue.MAX_QUEUED + 5;
            for (int i = 0; i < extra; i++) {
                burst.append("GET /healthz HTTP/1.1\r\n").append(HOST).append("\r\n");
            }
            s.write(burst.toString());

            List<String> statuses = new ArrayList<>();
            String last = "";
            while (true) {
                String head = s.readHead();
                if (head.isEmpty()) {
                    break;
                }
                statuses.add(head.substring(0, 12));
                last = head;
                s.body(head);
            }
            assertThat(statuses).hasSize(1 + RequestQueue.MAX_QUEUED + 1);
            assertThat(statuses.subList(0, 1 + RequestQueue.MAX_QUEUED)).allMatch(h -> h.equals("HTTP/1.1 200"));
            assertThat(last).startsWith("HTTP/1.1 429").containsIgnoringCase("connection: close")
                    .containsIgnoringCase("retry-after");
        }
    }

    @Test
    void aRequestLineTrickledPastTheDeadlineIsAnswered408() throws Exception {
        try (TestServer server = TestServer.start(dir, c -> c.withAdmission(
                c.admission().withHandshakeTimeout(Duration.ofSeconds(1))));
             RawSocket s = new RawSocket(server.port())) {
            s.write("GET /ch");

            assertThat(s.readHead()).startsWith("HTTP/1.1 408");
            assertThat(s.closedByServer()).isTrue();
        }
    }

    @Test
    void aSilentKeptAliveConnectionIsClosedWithout408() throws Exception {
        try (TestServer server = TestServer.start(dir, c -> c.withAdmission(
                c.admission().withHandshakeTimeout(Duration.ofSeconds(1))));
             RawSocket s = new RawSocket(server.port())) {
            String head = s.request("GET /healthz HTTP/1.1\r\n" + HOST + "\r\n");
            assertThat(head).startsWith("HTTP/1.1 200");
            s.body(head);

            assertThat(s.readHead()).as("nothing was asked, so nothing is answered").isEmpty();
        }
    }

    /**
     * A client pipelines requests for history pages (~800 KB each) and reads none of the answers. The
     * server answers until what the client left unread passes the outbound limit (after the kernel's
     * socket buffers have taken what they take), then neither reads nor answers, and 5 s later it
     * closes the connection. Without the limit it produced every page it was asked for.
     */
    @Test
    void aClientThatLeavesAnswersUnreadIsNotAnsweredFurtherAndIsClosed() throws Exception {
        long limit = 64 * 1024;
        int requests = 60;
        try (TestServer server = TestServer.start(dir, c -> TestServer.UNTHROTTLED.apply(c)
                .withLimits(c.maxFrameBytes(), c.maxMessageLength(), limit)
                .withAdmission(TestServer.UNTHROTTLED.apply(c).admission().withConnections(100, 1)))) {
            int page = fill(server, "deep", 200);
            long sentBefore = bytesSent(server);

            // The hog comes from an address of its own, where it holds the only connection allowed
            // until the server closes it: till then another connection from there is refused (429).
            try (Socket hog = connect(server, HOG, 4096)) {
                long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
                while (!get(server, HOG, "/healthz").startsWith("HTTP/1.1 429") && System.nanoTime() < deadline) {
                    Thread.sleep(10);
                }
                byte[] request = ("GET /api/rooms/deep/messages?limit=500 HTTP/1.1\r\n" + HOST + "\r\n")
                        .getBytes(StandardCharsets.ISO_8859_1);
                try {
                    for (int i = 0; i < requests; i++) {
                        hog.getOutputStream().write(request);
                        Thread.sleep(20);
                    }
                } catch (SocketException closed) {
                    // The server closed the connection already: what the rest of the test checks.
                }
                long most = 0;
                boolean closed = false;
                while (!closed && System.nanoTime() < deadline) {
                    most = Math.max(most, bytesSent(server) - sentBefore);
                    closed = get(server, HOG, "/healthz").startsWith("HTTP/1.1 200");
                    if (!closed) {
                        Thread.sleep(100);
                    }
                }
                assertThat(closed).as("the hog's connection was closed").isTrue();
                // The kernel's buffers on both ends take a few MB on loopback before the server sees a backlog.
                assertThat(most).as("bytes produced for a client that reads nothing (one page: %d)", page)
                        .isLessThan(requests / 4 * (long) page);
                assertThat(responses(hog)).isLessThan(requests);
            }
        }
    }

    private static final String HOG = "127.0.0.3";
    private static final String OTHER = "127.0.0.2";

    /** Stores {@code count} long messages in {@code room}; returns the size of one page of them. */
    private static int fill(TestServer server, String room, int count) throws Exception {
        // Three bytes of UTF-8 a character: pages as large as the server's text budget allows.
        String text = "\u20ac".repeat(server.server().config().maxMessageLength());
        try (WsClient writer = WsClient.hello(server.chatUri(), "writer")) {
            writer.join(room);
            for (int i = 0; i < count; i++) {
                writer.say(room, "f" + i, text);
            }
            writer.collect("ack", count);
        }
        String page = get(server, OTHER, "/api/rooms/" + room + "/messages?limit=" + count);
        assertThat(page).startsWith("HTTP/1.1 200");
        return page.length();
    }

    /** The server's parley_bytes_sent_total: every byte it has handed to any socket. */
    private static long bytesSent(TestServer server) throws Exception {
        // The address's one slot is given back just after its last connection closes: retry a 429.
        String metrics = get(server, OTHER, "/metrics");
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (metrics.startsWith("HTTP/1.1 429") && System.nanoTime() < deadline) {
            Thread.sleep(10);
            metrics = get(server, OTHER, "/metrics");
        }
        for (String line : metrics.split("\n")) {
            if (line.startsWith("parley_bytes_sent_total ")) {
                return (long) Double.parseDouble(line.substring(line.indexOf(' ') + 1).trim());
            }
        }
        throw new AssertionError("no parley_bytes_sent_total in: " + metrics);
    }

    private static Socket connect(TestServer server, String from, int receiveBuffer) throws IOException {
        Socket s = new Socket();
        if (receiveBuffer > 0) {
            s.setReceiveBufferSize(receiveBuffer);
        }
        s.bind(new InetSocketAddress(from, 0));
        s.connect(new InetSocketAddress("127.0.0.1", server.port()));
        s.setSoTimeout(10_000);
        return s;
    }

    /** One GET on a fresh connection from {@code from}: the whole response, as text. */
    private static String get(TestServer server, String from, String path) throws IOException {
        try (Socket s = connect(server, from, 0)) {
            s.getOutputStream().write(("GET " + path + " HTTP/1.1\r\n" + HOST + "Connection: close\r\n\r\n")
                    .getBytes(StandardCharsets.ISO_8859_1));
            return new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
        }
    }

    /** How many response heads arrive before the connection ends. */
    private static int responses(Socket s) throws IOException {
        byte[] marker = "HTTP/1.1 ".getBytes(StandardCharsets.ISO_8859_1);
        byte[] all;
        try {
            all = s.getInputStream().readAllBytes();
        } catch (SocketException reset) {
            return 0;
        }
        String text = new String(all, StandardCharsets.ISO_8859_1);
        int n = 0;
        for (int i = text.indexOf("HTTP/1.1 "); i >= 0; i = text.indexOf("HTTP/1.1 ", i + marker.length)) {
            n++;
        }
        return n;
    }
}
