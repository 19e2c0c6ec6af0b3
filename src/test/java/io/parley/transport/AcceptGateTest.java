package io.parley.transport;

import io.parley.config.Networks;
import io.parley.testing.TestCertificate;
import io.parley.testing.TestServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Connection limits are enforced when a connection is accepted, not when it first speaks: a silent
 * socket over a limit is closed at once, so it holds no descriptor (AcceptGate, ConnectionCounts).
 * The clients here never send a byte.
 */
class AcceptGateTest {

    /** Far below the handshake timeout (10 s), which is what closed a silent socket before. */
    private static final int CLOSED_WITHIN_MS = 2_000;

    @TempDir
    Path dir;

    private final List<Socket> opened = new ArrayList<>();

    @AfterEach
    void closeSockets() {
        for (Socket s : opened) {
            try {
                s.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }
    }

    @Test
    void aSilentConnectionOverItsAddressLimitIsClosedAtAcceptWith429() throws Exception {
        try (TestServer server = TestServer.start(dir, c -> c.withAdmission(c.admission().withConnections(100, 2)))) {
            Socket first = silent(server, "127.0.0.1");
            Socket second = silent(server, "127.0.0.1");
            Socket third = silent(server, "127.0.0.1");

            String answer = readUntilClosed(third);
            assertThat(answer).startsWith("HTTP/1.1 429").containsIgnoringCase("retry-after:")
                    .contains("Too many connections from your address");
            assertStillOpen(first);
            assertStillOpen(second);
            // Another address is not affected.
            assertStillOpen(silent(server, "127.0.0.2"));
        }
    }

    @Test
    void aSilentConnectionToAFullServerIsClosedAtAcceptWith503() throws Exception {
        try (TestServer server = TestServer.start(dir, c -> c.withAdmission(c.admission().withConnections(2, 100)))) {
            Socket first = silent(server, "127.0.0.1");
            Socket second = silent(server, "127.0.0.2");
            Socket third = silent(server, "127.0.0.3");

            assertThat(readUntilClosed(third)).startsWith("HTTP/1.1 503").contains("connection limit");
            assertStillOpen(first);
            assertStillOpen(second);
        }
    }

    @Test
    void overTlsARefusedConnectionIsClosedAtAcceptWithoutAPlainTextAnswer() throws Exception {
        TestCertificate certificate = TestCertificate.makeIn(dir);
        assumeTrue(certificate != null, "openssl is needed to make a test certificate");
        try (TestServer server = TestServer.start(dir.resolve("data"),
                c -> c.withTls(certificate.cert(), certificate.key()).withAdmission(c.admission().withConnections(100, 1)))) {
            Socket first = silent(server, "127.0.0.1");
            Socket second = silent(server, "127.0.0.1");

            assertThat(readUntilClosed(second)).as("what a TLS client would have to read as a record").isEmpty();
            assertStillOpen(first);
        }
    }

    @Test
    void theLastTenthOfTheSlotsIsKeptForAddressesWithFewConnections() throws Exception {
        // No per-address limit to speak of: only the reserve stops one address from taking every slot.
        int max = 40;
        try (TestServer server = TestServer.start(dir, c -> c.withAdmission(c.admission().withConnections(max, 10_000)))) {
            List<Socket> greedy = new ArrayList<>();
            for (int i = 0; i < max; i++) {
                greedy.add(silent(server, "127.0.0.1"));
            }
            int reserve = max / 10;
            for (Socket refused : greedy.subList(max - reserve, max)) {
                assertThat(readUntilClosed(refused)).startsWith("HTTP/1.1 429");
            }
            for (Socket held : greedy.subList(0, max - reserve)) {
                assertStillOpen(held);
            }

            // Others still get in, up to FEW each, while the reserve lasts.
            for (int i = 0; i < reserve; i++) {
                try (Socket other = bound("127.0.0." + (2 + i))) {
                    other.connect(new InetSocketAddress("127.0.0.1", server.port()));
                    other.getOutputStream().write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                            .getBytes(StandardCharsets.US_ASCII));
                    assertThat(readUntilClosed(other)).as("a client from another address").startsWith("HTTP/1.1 200");
                }
            }
        }
    }

    @Test
    void aTrustedProxysConnectionsCountOnlyInTheTotalAtAccept() throws Exception {
        try (TestServer server = TestServer.start(dir, c -> c.withAdmission(c.admission().withConnections(100, 2)
                .withTrustedProxies(Networks.parse("trusted proxy", List.of("127.0.0.1")))))) {
            List<Socket> pooled = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                pooled.add(silent(server, "127.0.0.1"));
            }
            for (Socket s : pooled) {
                assertStillOpen(s);
            }
        }
    }

    @Test
    void maxConnectionsIsLoweredToWhatTheDescriptorLimitLeaves() {
        assertThat(DescriptorBudget.fit(20_000, 1_048_576, 120)).isEqualTo(20_000);
        assertThat(DescriptorBudget.fit(20_000, 1_200, 120)).isEqualTo(1_200 - 120 - DescriptorBudget.HEADROOM);
        assertThat(DescriptorBudget.fit(20_000, 150, 120)).isZero();
    }

    private Socket silent(TestServer server, String from) throws IOException {
        Socket s = bound(from);
        s.connect(new InetSocketAddress("127.0.0.1", server.port()));
        return s;
    }

    private Socket bound(String from) throws IOException {
        Socket s = new Socket();
        opened.add(s);
        s.bind(new InetSocketAddress(InetAddress.getByName(from), 0));
        return s;
    }

    /** What the server sent before it closed the socket; fails if it is still open after the limit. */
    private static String readUntilClosed(Socket s) throws IOException {
        s.setSoTimeout(CLOSED_WITHIN_MS);
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        InputStream in = s.getInputStream();
        byte[] buffer = new byte[512];
        try {
            int n;
            while ((n = in.read(buffer)) >= 0) {
                got.write(buffer, 0, n);
            }
        } catch (SocketTimeoutException e) {
            throw new AssertionError("still open after " + CLOSED_WITHIN_MS + " ms; got: "
                    + got.toString(StandardCharsets.UTF_8));
        }
        return got.toString(StandardCharsets.UTF_8);
    }

    private static void assertStillOpen(Socket s) throws IOException {
        s.setSoTimeout(50);
        try {
            int b = s.getInputStream().read();
            throw new AssertionError("closed by the server (read " + b + ")");
        } catch (SocketTimeoutException expected) {
            // open and silent, as a connection within its limits is
        }
    }
}
