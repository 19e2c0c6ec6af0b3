package io.parley.transport;

import com.auth0.jwt.JWT;
import com.auth0.jwt.algorithms.Algorithm;
import com.fasterxml.jackson.databind.JsonNode;
import io.parley.auth.Tokens;
import io.parley.config.ServerConfig.Access;
import io.parley.testing.RawSocket;
import io.parley.testing.TestServer;
import io.parley.testing.WsClient;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The edges of a request a hostile client pushes on (issue 8): request targets no decoder can read,
 * tokens that are signed but absurd, a {@code Host} that DNS rebinding chose, and the page's CSP.
 */
class HostileEdgesTest {

    private static final String SECRET = "the-hostile-edges-secret-of-32-bytes!";

    @TempDir
    static Path dir;
    static TestServer server;

    @BeforeAll
    static void start() throws Exception {
        server = TestServer.start(dir.resolve("open"), c -> c.withAccess(Access.defaults().withTokenSecret(SECRET)));
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    /** What the shared server had logged at ERROR before this test: the test answers for the rest. */
    private int errorsBefore;

    @BeforeEach
    void countErrors() {
        errorsBefore = server.log().errors().size();
    }

    private void assertNothingLogged() {
        List<String> errors = server.log().errors();
        assertThat(errors.subList(errorsBefore, errors.size())).isEmpty();
    }

    record Answer(int status, String head, String body) {
        JsonNode json() {
            try {
                return WsClient.JSON.readTree(body);
            } catch (Exception e) {
                throw new AssertionError("not JSON: " + body, e);
            }
        }
    }

    private static Answer send(TestServer s, String request) throws Exception {
        try (RawSocket socket = new RawSocket(s.port())) {
            String head = socket.request(request);
            assertThat(head).as("an answer, not a closed connection, to: " + request.lines().findFirst().orElseThrow())
                    .startsWith("HTTP/1.1 ");
            return new Answer(Integer.parseInt(head.substring(9, 12)), head, socket.body(head));
        }
    }

    private static String get(String target, String host, String... headers) {
        return "GET " + target + " HTTP/1.1\r\nHost: " + host + "\r\n" + String.join("", headers) + "\r\n";
    }

    private static String handshake(String target, String host, String... headers) {
        return get(target, host, "Upgrade: websocket\r\n", "Connection: Upgrade\r\n",
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "Sec-WebSocket-Version: 13\r\n",
                String.join("", headers));
    }

    private static String token(String name, long expSeconds) {
        return JWT.create().withSubject("u-1").withClaim("name", name).withClaim("exp", expSeconds)
                .sign(Algorithm.HMAC256(SECRET));
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {
            "/api/rooms/lobby/messages?since=%zz",
            "/api/rooms/lobby/messages?since=%",
            "/api/rooms/lobby/messages?%zz=1",
            "/api/rooms/%zz/messages",
            "/api/rooms/lobby/messages?token=abc&since=%e2%80",
            "/api/rooms/lobby/messages?since=%EF%BC%91",
            "/api/rooms/lobby/messages?since=%2B1",
            "/api/rooms/lobby/messages?since=1&since=2",
            "/api/rooms/lobby/messages?since=99999999999999999999",
            "/api/rooms/lobby/messages?before=-9223372036854775808",
            "/api/rooms/lobby/messages?limit=99999999999",
            "/api/rooms/lobby/messages?since=0&wait=99999999999999"})
    void aMalformedApiQueryOrPathIsA400InTheProtocolsShapeAndLogsNothing(String target) throws Exception {
        Answer answer = send(server, get(target, "127.0.0.1"));

        assertThat(answer.status()).as(answer.body()).isEqualTo(400);
        assertThat(answer.head()).containsIgnoringCase("content-type: application/json");
        assertThat(answer.json().path("type").asText()).isEqualTo("error");
        assertThat(answer.json().path("code").asText()).isIn("bad_request", "invalid_since");
        assertNothingLogged();
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"/chat%zz", "/chat?token=%zz", "/%zz", "/index.html?%"})
    void aMalformedTargetElsewhereIsA400Too(String target) throws Exception {
        assertThat(send(server, handshake(target, "127.0.0.1")).status()).isEqualTo(400);
        assertThat(send(server, get(target, "127.0.0.1")).status()).isEqualTo(400);
        assertNothingLogged();
    }

    @ParameterizedTest(name = "exp {0}")
    @ValueSource(longs = {31556889864403199L, 31556889864403190L, 9223372036854775L, 253402300800L})
    void aTokenThatExpiresBeyondAnyUsefulTimeIs401OverHttpAndRefusedOverWebSocket(long exp) throws Exception {
        String token = token("Ada", exp);

        Answer api = send(server, get("/api/rooms/lobby/messages", "127.0.0.1", "Authorization: Bearer " + token + "\r\n"));
        assertThat(api.status()).as(api.body()).isEqualTo(401);
        assertThat(api.json().path("code").asText()).isEqualTo("unauthorized");

        assertThat(send(server, handshake("/chat", "127.0.0.1", "Authorization: Bearer " + token + "\r\n")).status())
                .isEqualTo(401);
        assertThat(send(server, handshake("/chat?token=" + token, "127.0.0.1")).status()).isEqualTo(401);
        assertNothingLogged();
    }

    @Test
    void aTokenThatExpiresInTheYear9999IsStillAccepted() throws Exception {
        String token = token("Ada", Instant.parse("9999-12-31T23:59:00Z").getEpochSecond());

        assertThat(send(server, handshake("/chat?token=" + token, "127.0.0.1")).status()).isEqualTo(101);
    }

    @Test
    void noTokenIsMintedToOutliveTheYear9999() {
        Tokens tokens = new Tokens(SECRET);

        assertThatThrownBy(() -> tokens.mint("u-1", "Ada", List.of(), Duration.ofDays(3_000_000)))
                .isInstanceOf(Tokens.InvalidTokenException.class).hasMessageContaining("9999");
        assertThat(tokens.mint("u-1", "Ada", List.of(), Duration.ofDays(365 * 100))).isNotBlank();
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"abc\u202Egnp.exe", "\u2066Ada\u2069", "Ad\u200Ba", "\u202ALinus"})
    void aTokenWhoseNameHoldsBidiOrInvisibleCharactersIsRefused(String name) throws Exception {
        String token = token(name, Instant.now().plusSeconds(3600).getEpochSecond());

        Answer api = send(server, get("/api/rooms/lobby/messages", "127.0.0.1", "Authorization: Bearer " + token + "\r\n"));
        assertThat(api.status()).isEqualTo(401);
        assertThat(api.json().path("code").asText()).isEqualTo("unauthorized");
        assertThat(send(server, handshake("/chat?token=" + token, "127.0.0.1")).status()).isEqualTo(401);
    }

    @Test
    void aRefreshWithAnAbsurdTokenIsRefusedAndTheConnectionGoesOn() {
        String token = token("Ada", Instant.now().plusSeconds(3600).getEpochSecond());
        try (WsClient ada = WsClient.connect(server.chatUri(), Map.of("Authorization", "Bearer " + token))) {
            ada.send(Map.of("type", "hello"));
            ada.expect("welcome");

            ada.send(Map.of("type", "refresh", "token", token("Ada", Instant.MAX.getEpochSecond())));
            assertThat(ada.expect("error").path("code").asText()).isEqualTo("unauthorized");
            ada.send(Map.of("type", "refresh", "token",
                    token("Ada\u202E", Instant.now().plusSeconds(7200).getEpochSecond())));
            assertThat(ada.expect("error").path("code").asText()).isEqualTo("unauthorized");

            ada.join("edges");
            ada.say("edges", "a1", "still here");
            ada.expect("ack");
        }
        assertNothingLogged();
    }

    @Test
    void aTokenInALoggedTargetIsRedactedAndSoIsAnExceptionQuotingIt() {
        assertThat(Authenticator.withoutTokens("/chat?token=eyJ.abc.def&room=x"))
                .isEqualTo("/chat?token=<redacted>&room=x");
        assertThat(Authenticator.withoutTokens("/api/rooms/x/messages?since=1&TOKEN=eyJ.abc.def"))
                .isEqualTo("/api/rooms/x/messages?since=1&TOKEN=<redacted>");
        assertThat(Authenticator.withoutTokens("/chat?%74ok%65n%3DeyJ.abc.def"))
                .isEqualTo("/chat?%74ok%65n%3D<redacted>");
        assertThat(Authenticator.withoutTokens("/chat?tokens=1&mytoken=2")).isEqualTo("/chat?tokens=1&mytoken=2");
        Throwable logged = Authenticator.withoutTokens(new IllegalStateException("wrapped",
                new IllegalArgumentException("invalid hex byte 'zz' at index 29 of '/chat?token=eyJ.abc.def%zz'")));
        assertThat(logged.getCause().getMessage()).doesNotContain("eyJ").contains("IllegalArgumentException");
    }

    @Test
    void withAPublicUrlOnlyItsHostIsServedAndItsOriginIsTheOwnOne() throws Exception {
        try (TestServer pinned = TestServer.start(dir.resolve("pinned"), c -> c.withAccess(c.access()
                .withPublicUrl(URI.create("https://chat.example.com"))))) {
            // DNS rebinding: the page's own origin and Host are both the attacker's name.
            assertThat(send(pinned, handshake("/chat", "evil.example", "Origin: https://evil.example\r\n")).status())
                    .isEqualTo(421);
            assertThat(send(pinned, handshake("/chat", "chat.example.com", "Origin: https://chat.example.com\r\n")).status())
                    .isEqualTo(101);
            assertThat(send(pinned, handshake("/chat", "CHAT.example.com:443", "Origin: https://chat.example.com\r\n")).status())
                    .isEqualTo(101);
            // Same-origin now means the public URL's origin, whatever Host says.
            assertThat(send(pinned, handshake("/chat", "chat.example.com", "Origin: http://chat.example.com\r\n")).status())
                    .isEqualTo(403);
            for (String host : List.of("evil.example", "chat.example.com.evil.example", "chat.example.com@evil.example",
                    "chat.example.com:8443", "127.0.0.1:" + pinned.port())) {
                assertThat(send(pinned, handshake("/chat", host)).status()).as(host).isEqualTo(421);
            }

            Answer api = send(pinned, get("/api/rooms/lobby/messages", "evil.example"));
            assertThat(api.status()).isEqualTo(421);
            assertThat(api.json().path("code").asText()).isEqualTo("misdirected");
            assertThat(send(pinned, get("/api/rooms/lobby/messages", "chat.example.com")).status()).isEqualTo(200);
            assertThat(send(pinned, get("/", "evil.example")).status()).isEqualTo(421);
            assertThat(send(pinned, get("/", "chat.example.com")).status()).isEqualTo(200);
            // Health checks and scrapers address the server by its IP address.
            assertThat(send(pinned, get("/healthz", "10.0.0.7:8080")).status()).isEqualTo(200);
            assertThat(pinned.log().errors()).isEmpty();
        }
    }

    @Test
    void thePageMayConnectOnlyToItsOwnOriginAndTheConfiguredOnes() throws Exception {
        assertThat(csp(server)).contains("connect-src 'self';");

        try (TestServer configured = TestServer.start(dir.resolve("csp"), c -> c
                .withAllowedOrigins(List.of("https://www.example.com", "*"))
                .withAccess(c.access().withPublicUrl(URI.create("https://chat.example.com:8443"))))) {
            assertThat(csp(configured)).contains("connect-src 'self' wss://chat.example.com:8443 "
                    + "https://www.example.com wss://www.example.com;");
        }
    }

    private static String csp(TestServer s) throws Exception {
        Answer page = send(s, get("/", "chat.example.com:8443"));
        assertThat(page.status()).isEqualTo(200);
        String policy = page.head().lines().filter(l -> l.toLowerCase().startsWith("content-security-policy:"))
                .findFirst().orElseThrow();
        // No bare scheme (any host over it) and no wildcard among the sources.
        assertThat(policy).doesNotContainPattern(" wss?:[;\\s]").doesNotContain("*;");
        return policy;
    }

    @Test
    void aTokenWithAUsualNameAndExpiryStillGetsIn() throws Exception {
        String token = token("Ada Lovelace", Instant.now().plusSeconds(3600).getEpochSecond());
        String encoded = URLEncoder.encode(token, StandardCharsets.UTF_8);

        assertThat(send(server, handshake("/chat?token=" + encoded, "127.0.0.1")).status()).isEqualTo(101);
    }
}
