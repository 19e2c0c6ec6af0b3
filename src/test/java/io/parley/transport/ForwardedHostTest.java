package io.parley.transport;

import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.util.NetUtil;
import io.parley.config.Networks;
import io.parley.config.ServerConfig;
import io.parley.testing.RawSocket;
import io.parley.testing.TestServer;
import io.parley.testing.WsClient;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetAddress;
import java.net.URI;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The address a browser used, as Parley reads it behind a proxy: the forwarded host and scheme
 * ({@code X-Forwarded-Host}, {@code X-Forwarded-Proto}, RFC 7239 {@code Forwarded}) count from trusted
 * proxies only, and decide the own origin and the public-URL host check (421). First {@link Addressed}
 * on its own, then servers on 127.0.0.1 that trust 127.0.0.1 or not, spoken to in raw HTTP.
 */
class ForwardedHostTest {

    private static final Networks PROXIES = Networks.parse("trusted proxy", List.of("127.0.0.1", "10.0.0.0/8"));
    private static final InetAddress PROXY = ip("127.0.0.1");
    private static final InetAddress STRANGER = ip("198.51.100.7");
    private static final URI PUBLIC = URI.create("https://chat.example.com");

    @TempDir
    static Path dir;
    /** Trusting 127.0.0.1, with and without a public URL; trusting nobody, with and without one. */
    static TestServer trustedPinned;
    static TestServer trustedOpen;
    static TestServer untrustedPinned;
    static TestServer untrustedOpen;

    @BeforeAll
    static void start() throws Exception {
        UnaryOperator<ServerConfig> trusting = c -> c.withAdmission(c.admission()
                .withTrustedProxies(Networks.parse("trusted proxy", List.of("127.0.0.1"))));
        UnaryOperator<ServerConfig> pinned = c -> c.withAccess(c.access().withPublicUrl(PUBLIC));
        trustedPinned = TestServer.start(dir.resolve("trusted-pinned"), c -> pinned.apply(trusting.apply(c)));
        trustedOpen = TestServer.start(dir.resolve("trusted-open"), trusting);
        untrustedPinned = TestServer.start(dir.resolve("untrusted-pinned"), pinned);
        untrustedOpen = TestServer.start(dir.resolve("untrusted-open"));
    }

    @AfterAll
    static void stop() {
        for (TestServer s : new TestServer[] {trustedPinned, trustedOpen, untrustedPinned, untrustedOpen}) {
            if (s != null) {
                s.close();
            }
        }
    }

    private static InetAddress ip(String literal) {
        return NetUtil.createInetAddressFromIpAddressString(literal);
    }

    /** Headers as name, value, name, value, ...; always with {@code Host: 127.0.0.1:8080}, nginx's name for Parley. */
    private static Addressed from(InetAddress peer, String... headers) {
        HttpHeaders h = new DefaultHttpHeaders(false);
        h.add("Host", "127.0.0.1:8080");
        for (int i = 0; i < headers.length; i += 2) {
            h.add(headers[i], headers[i + 1]);
        }
        return Addressed.of(peer, h, PROXIES);
    }

    private static Addressed addressed(String host, String scheme) {
        return new Addressed(host, scheme);
    }

    private static final Addressed UPSTREAM = addressed("127.0.0.1:8080", null);

    @Test
    void aTrustedProxysForwardedHostAndSchemeAreTheAddressUsed() {
        assertThat(from(PROXY, "X-Forwarded-Host", "chat.example.com", "X-Forwarded-Proto", "https"))
                .isEqualTo(addressed("chat.example.com", "https"));
        assertThat(from(PROXY, "X-Forwarded-Host", "Chat.Example.COM:8443", "X-Forwarded-Proto", "HTTP"))
                .isEqualTo(addressed("chat.example.com:8443", "http"));
        assertThat(from(PROXY, "X-Forwarded-Host", "[2001:db8::1]:8443")).isEqualTo(addressed("[2001:db8::1]:8443", null));
        // The last proxy's word: the right-most value.
        assertThat(from(PROXY, "X-Forwarded-Host", "evil.example, chat.example.com", "X-Forwarded-Proto", "http, https"))
                .isEqualTo(addressed("chat.example.com", "https"));
        assertThat(from(PROXY, "X-Forwarded-Host", "evil.example", "X-Forwarded-Host", "chat.example.com"))
                .isEqualTo(addressed("chat.example.com", null));
        assertThat(from(PROXY)).isEqualTo(UPSTREAM);
    }

    @Test
    void fromAnyoneElseTheForwardedHeadersAreIgnored() {
        assertThat(from(STRANGER, "X-Forwarded-Host", "chat.example.com", "X-Forwarded-Proto", "https",
                "Forwarded", "host=chat.example.com;proto=https")).isEqualTo(UPSTREAM);
        assertThat(from(ip("127.0.0.2"), "X-Forwarded-Host", "chat.example.com")).isEqualTo(UPSTREAM);
    }

    @Test
    void forwardedIsReadAsRfc7239WritesIt() {
        assertThat(from(PROXY, "Forwarded", "for=203.0.113.5;host=chat.example.com;proto=https"))
                .isEqualTo(addressed("chat.example.com", "https"));
        assertThat(from(PROXY, "Forwarded", "For=\"[2001:db8::5]:4711\"; HOST=\"chat.example.com:8443\" ;Proto=https"))
                .isEqualTo(addressed("chat.example.com:8443", "https"));
        assertThat(from(PROXY, "Forwarded", "host=\"chat\\.example.com\";by=_hidden;secret=\"a;b,c\""))
                .isEqualTo(addressed("chat.example.com", null));
        // Empty list members are allowed.
        assertThat(from(PROXY, "Forwarded", " , host=chat.example.com ,")).isEqualTo(addressed("chat.example.com", null));
    }

    @Test
    void ofSeveralForwardedElementsTheOutermostTrustedProxysCounts() {
        // A load balancer (10.0.0.2, trusted) reached by the browser, then the local proxy.
        assertThat(from(PROXY, "Forwarded", "for=203.0.113.5;host=chat.example.com;proto=https",
                "Forwarded", "for=10.0.0.2;host=parley.internal;proto=http"))
                .isEqualTo(addressed("chat.example.com", "https"));
        // The same chain in one header; the inner element lacks proto, the outer one's stands.
        assertThat(from(PROXY, "Forwarded", "for=203.0.113.5;host=chat.example.com;proto=https, for=10.0.0.2;host=lb"))
                .isEqualTo(addressed("chat.example.com", "https"));
        // An element left of one whose for= is not a trusted proxy was written by the client.
        assertThat(from(PROXY, "Forwarded", "for=1.2.3.4;host=evil.example;proto=http, for=203.0.113.5;host=chat.example.com"))
                .isEqualTo(addressed("chat.example.com", null));
        assertThat(from(PROXY, "Forwarded", "host=evil.example, for=unknown;host=chat.example.com"))
                .isEqualTo(addressed("chat.example.com", null));
        assertThat(from(PROXY, "Forwarded", "host=evil.example, host=chat.example.com"))
                .isEqualTo(addressed("chat.example.com", null));
    }

    @Test
    void whenTheTwoKindsDisagreeNeitherIsBelieved() {
        assertThat(from(PROXY, "X-Forwarded-Host", "chat.example.com", "Forwarded", "host=evil.example;proto=http",
                "X-Forwarded-Proto", "https")).isEqualTo(UPSTREAM);
        assertThat(from(PROXY, "X-Forwarded-Host", "chat.example.com", "Forwarded", "host=CHAT.example.com;proto=https"))
                .isEqualTo(addressed("chat.example.com", "https"));
    }

    /** Hostile values: each is ignored, as if the header were absent. */
    static final List<String> BAD_HOSTS = List.of("", " ", "chat.example.com/evil", "chat.example.com@evil.example",
            "evil.example\\chat.example.com", "chat.example.com evil.example", "chat.example.com:", "chat.example.com:123456",
            "[::1", "::1", "\u00e9vil.example", "chat.example.com\u0000", "x".repeat(301), "a:b:c", "chat.example.com:80x");

    @Test
    void hostileHostsAndSchemesAreIgnored() {
        for (String bad : BAD_HOSTS) {
            assertThat(from(PROXY, "X-Forwarded-Host", bad)).as("X-Forwarded-Host '%s'", bad).isEqualTo(UPSTREAM);
            assertThat(Addressed.validHost(bad)).as("'%s'", bad).isNull();
        }
        for (String bad : List.of("ftp", "javascript", "https:", "", "h ttps", "wss")) {
            assertThat(from(PROXY, "X-Forwarded-Proto", bad)).as("X-Forwarded-Proto '%s'", bad).isEqualTo(UPSTREAM);
        }
        assertThat(from(PROXY, "Forwarded", "host=\"chat.example.com/evil\";proto=gopher")).isEqualTo(UPSTREAM);
    }

    @Test
    void aForwardedHeaderOutsideTheGrammarIsIgnoredWhole() {
        List<String> bad = new ArrayList<>(List.of("host", "host=", "=chat.example.com", "host=\"chat.example.com",
                "host=\"chat.example.com\\", "host=chat.example.com;;proto=https", "host=chat.example.com;",
                "host=a b", "host=chat.example.com;host=evil.example", "host=\"a\"b", "host=\"a\u0001\"", ";", ",",
                "host = chat.example.com", "host=chat.example.com proto=https", "for=1.2.3.4;host=x\u00ff"));
        bad.add(String.join(",", Collections.nCopies(33, "host=chat.example.com")));
        for (String header : bad) {
            assertThat(from(PROXY, "Forwarded", header)).as("Forwarded: %s", header).isEqualTo(UPSTREAM);
        }
        assertThat(from(PROXY, "Forwarded", String.join(",", Collections.nCopies(32, "host=chat.example.com"))))
                .isEqualTo(addressed("chat.example.com", null));
    }

    @Test
    void aKnownSchemeMakesTheOwnOriginThatSchemesOnly() {
        OriginPolicy open = new OriginPolicy(List.of(), null);
        assertThat(open.allows("https://chat.example.com", addressed("chat.example.com", "https"))).isTrue();
        assertThat(open.allows("http://chat.example.com", addressed("chat.example.com", "https"))).isFalse();
        assertThat(open.allows("https://chat.example.com:8443", addressed("chat.example.com:8443", "https"))).isTrue();
        assertThat(open.allows("https://chat.example.com", addressed("chat.example.com:443", "https"))).isTrue();
        // Unknown scheme (no trusted proxy said): either, as before.
        assertThat(open.allows("http://chat.example.com", addressed("chat.example.com", null))).isTrue();
        assertThat(open.allows("https://chat.example.com", addressed("chat.example.com", null))).isTrue();
        OriginPolicy pinned = new OriginPolicy(List.of(), PUBLIC);
        assertThat(pinned.addressedHere(addressed("chat.example.com", "https"))).isTrue();
        assertThat(pinned.addressedHere(addressed("127.0.0.1:8080", null))).isFalse();
    }

    // ---- servers on 127.0.0.1, raw HTTP ----

    private static int status(TestServer server, String request) throws Exception {
        try (RawSocket socket = new RawSocket(server.port())) {
            String head = socket.request(request);
            assertThat(head).as("an answer to %s", request).startsWith("HTTP/1.1 ");
            return Integer.parseInt(head.substring(9, 12));
        }
    }

    /** A request as nginx without {@code proxy_set_header Host} sends it: Host is Parley's own address. */
    private static String page(TestServer server, String... headers) {
        return "GET / HTTP/1.1\r\nHost: 127.0.0.1:" + server.port() + "\r\n" + String.join("", headers) + "\r\n";
    }

    private static String handshake(TestServer server, String... headers) {
        return "GET /chat HTTP/1.1\r\nHost: 127.0.0.1:" + server.port() + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" + String.join("", headers) + "\r\n";
    }

    private static String send(TestServer server, String... headers) throws Exception {
        String body = WsClient.JSON.writeValueAsString(Map.of("id", "m" + System.nanoTime(), "text", "hi"));
        return "POST /api/rooms/lobby/messages HTTP/1.1\r\nHost: 127.0.0.1:" + server.port() + "\r\nX-Parley-Name: ada\r\n"
                + "Content-Type: application/json\r\nContent-Length: " + body.length() + "\r\n" + String.join("", headers)
                + "\r\n" + body;
    }

    private static final String[] FROM_NGINX = {"X-Forwarded-Host: chat.example.com\r\n", "X-Forwarded-Proto: https\r\n",
            "X-Forwarded-For: 203.0.113.5\r\n"};
    private static final String ORIGIN = "Origin: https://chat.example.com\r\n";

    private static String[] with(String[] headers, String... more) {
        String[] all = Arrays.copyOf(headers, headers.length + more.length);
        System.arraycopy(more, 0, all, headers.length, more.length);
        return all;
    }

    @Test
    void theOriginCheckUsesTheForwardedAddressFromATrustedProxyOnly() throws Exception {
        // Issue 11: nginx forwards X-Forwarded-Host and -Proto but not Host.
        assertThat(status(trustedOpen, handshake(trustedOpen, with(FROM_NGINX, ORIGIN)))).isEqualTo(101);
        assertThat(status(trustedOpen, send(trustedOpen, with(FROM_NGINX, ORIGIN)))).isEqualTo(200);
        assertThat(status(untrustedOpen, handshake(untrustedOpen, with(FROM_NGINX, ORIGIN)))).isEqualTo(403);
        assertThat(status(untrustedOpen, send(untrustedOpen, with(FROM_NGINX, ORIGIN)))).isEqualTo(403);
        // The page was https: an http page on that host is another origin.
        assertThat(status(trustedOpen, handshake(trustedOpen, with(FROM_NGINX, "Origin: http://chat.example.com\r\n"))))
                .isEqualTo(403);
        // The same, said in RFC 7239's words.
        String forwarded = "Forwarded: for=203.0.113.5;host=chat.example.com;proto=https\r\n";
        assertThat(status(trustedOpen, handshake(trustedOpen, forwarded, ORIGIN))).isEqualTo(101);
        assertThat(status(trustedOpen, send(trustedOpen, forwarded, ORIGIN))).isEqualTo(200);
        assertThat(status(untrustedOpen, send(untrustedOpen, forwarded, ORIGIN))).isEqualTo(403);
        assertThat(trustedOpen.log().errors()).isEmpty();
    }

    @Test
    void withAPublicUrlTheForwardedHostFromATrustedProxyMustBeIts() throws Exception {
        assertThat(status(trustedPinned, page(trustedPinned, FROM_NGINX))).isEqualTo(200);
        assertThat(status(trustedPinned, handshake(trustedPinned, with(FROM_NGINX, ORIGIN)))).isEqualTo(101);
        assertThat(status(trustedPinned, page(trustedPinned, "Forwarded: host=chat.example.com\r\n"))).isEqualTo(200);
        // DNS rebinding through the proxy: the browser addressed the attacker's name.
        assertThat(status(trustedPinned, page(trustedPinned, "X-Forwarded-Host: evil.example\r\n"))).isEqualTo(421);
        assertThat(status(trustedPinned, page(trustedPinned, "Forwarded: host=evil.example\r\n"))).isEqualTo(421);
        // Nobody but a trusted proxy names the host: Host alone counts.
        assertThat(status(untrustedPinned, page(untrustedPinned, FROM_NGINX))).isEqualTo(421);
        assertThat(status(untrustedPinned, "GET / HTTP/1.1\r\nHost: chat.example.com\r\nX-Forwarded-Host: evil.example\r\n\r\n"))
                .isEqualTo(200);
    }

    @Test
    void hostileForwardedHeadersAreIgnoredAndNeverAnswered500() throws Exception {
        List<String> hostile = new ArrayList<>();
        for (String bad : BAD_HOSTS) {
            if (!bad.contains("\u0000") && bad.length() < 300) {
                hostile.add("X-Forwarded-Host: " + bad + "\r\n");
                hostile.add("Forwarded: host=\"" + bad.replace("\\", "\\\\") + "\"\r\n");
            }
        }
        hostile.addAll(List.of("X-Forwarded-Host: " + "x".repeat(4000) + "\r\n", "X-Forwarded-Proto: \u00ff\u00fe\r\n",
                "Forwarded: host=\"\r\n", "Forwarded: " + "host=a,".repeat(500) + "\r\n", "Forwarded: ;;;=\"\\\r\n",
                "X-Forwarded-Host: chat.example.com\r\nForwarded: host=evil.example\r\n"));
        for (String header : hostile) {
            // Host is nginx's upstream name, so an ignored header means 421 here and 403 for the page
            // of chat.example.com: "chat.example.com/evil", believed, would have let it in.
            assertThat(status(trustedPinned, page(trustedPinned, header))).as("%s", header.strip()).isEqualTo(421);
            assertThat(status(trustedOpen, handshake(trustedOpen, header, ORIGIN))).as("%s", header.strip()).isEqualTo(403);
        }
        assertThat(trustedPinned.log().errors()).isEmpty();
        assertThat(trustedOpen.log().errors()).isEmpty();
    }
}
