package io.parley;

import com.auth0.jwt.JWT;
import com.auth0.jwt.algorithms.Algorithm;
import com.fasterxml.jackson.databind.JsonNode;
import io.parley.cli.ParleyCommand;
import io.parley.config.ServerConfig.Access;
import io.parley.testing.ApiClient;
import io.parley.testing.RawSocket;
import io.parley.testing.TestServer;
import io.parley.testing.WsClient;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.net.http.WebSocketHandshakeException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/** Identity and tokens (docs/PROTOCOL.md, "Identity and tokens"): who a connection is, and who is let in. */
class AccessTest {

    static final String SECRET = "the-test-secret-of-at-least-32-bytes!";
    static final String OTHER_SECRET = "another-secret-also-32-bytes-or-longer";
    private static final HttpClient HTTP = HttpClient.newHttpClient();
    /** Time a token has left when a test starts that waits for its end: enough for a handshake and a refresh. */
    private static final Duration TOKEN_MARGIN = Duration.ofMillis(1200);

    @TempDir
    static Path dir;
    /** Tokens accepted, guests welcome: the usual deployment. */
    static TestServer server;

    ApiClient api;

    @BeforeAll
    static void start() throws Exception {
        // No clock leeway, so the tests of a token's end wait for its exp, not 5 s past it.
        server = TestServer.start(dir.resolve("tokens"),
                c -> c.withAccess(Access.defaults().withTokenSecret(SECRET).withTokenLeeway(Duration.ZERO)));
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    @AfterEach
    void closeApi() {
        if (api != null) {
            api.close();
        }
    }

    /** A token as an issuer with the server's secret makes it: HS256, sub, name, roles, exp. */
    static String token(String secret, String user, String name, List<String> roles, Instant expires) {
        return JWT.create().withSubject(user).withClaim("name", name).withClaim("roles", roles)
                .withExpiresAt(expires).sign(Algorithm.HMAC256(secret));
    }

    static String validToken(String user, String name, String... roles) {
        return token(SECRET, user, name, List.of(roles), Instant.now().plusSeconds(3600));
    }

    private static String handshake(String target, String extraHeaders) {
        return "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" + extraHeaders + "\r\n";
    }

    private static String rawResponse(TestServer s, String request) throws Exception {
        try (RawSocket socket = new RawSocket(s.port())) {
            String head = socket.request(request);
            return head + socket.body(head);
        }
    }

    private static int refusedStatus(URI uri, Map<String, String> headers) {
        var builder = HTTP.newWebSocketBuilder();
        headers.forEach(builder::header);
        var attempt = builder.buildAsync(uri, new java.net.http.WebSocket.Listener() { });
        try {
            attempt.join().abort();
        } catch (CompletionException e) {
            assertThat(e.getCause()).isInstanceOf(WebSocketHandshakeException.class);
            return ((WebSocketHandshakeException) e.getCause()).getResponse().statusCode();
        }
        throw new AssertionError("the WebSocket was let in");
    }

    @Test
    void aBearerTokenMakesTheConnectionItsUserWhateverNameHelloAsksFor() {
        String token = validToken("u-1001", "Ada Lovelace", "admin", "moderator");
        try (WsClient ada = WsClient.connect(server.chatUri(), Map.of("Authorization", "Bearer " + token));
             WsClient bob = WsClient.hello(server.chatUri(), "bob")) {
            ada.send(Map.of("type", "hello", "name", "Somebody Else"));
            JsonNode welcome = ada.expect("welcome");

            assertThat(welcome.path("user").asText()).isEqualTo("u-1001");
            assertThat(welcome.path("name").asText()).isEqualTo("Ada Lovelace");
            assertThat(welcome.path("guest").asBoolean(true)).isFalse();
            assertThat(welcome.path("roles")).extracting(JsonNode::asText).containsExactly("admin", "moderator");

            bob.join("lobby");
            ada.join("lobby");
            ada.say("lobby", "m1", "hello from a user");
            JsonNode seen = bob.expect("message", m -> m.path("id").asText().equals("m1"));
            assertThat(seen.path("user").asText()).isEqualTo("u-1001");
            assertThat(seen.path("from").asText()).isEqualTo("Ada Lovelace");
        }
    }

    @Test
    void aTokenInTheQueryLetsABrowserInAndAUsersHelloMayOmitTheName() {
        String token = validToken("u-2002", "Grace", "reader");
        try (WsClient grace = WsClient.connect(URI.create(server.chatUri() + "?token=" + token))) {
            grace.send(Map.of("type", "hello"));
            JsonNode welcome = grace.expect("welcome");

            assertThat(welcome.path("user").asText()).isEqualTo("u-2002");
            assertThat(welcome.path("name").asText()).isEqualTo("Grace");
            assertThat(welcome.path("guest").asBoolean(true)).isFalse();
            assertThat(welcome.path("roles")).extracting(JsonNode::asText).containsExactly("reader");
        }
    }

    @Test
    void aConnectionWithoutATokenIsAGuestWhoseUserCannotPassAsAUser() {
        try (WsClient guest = WsClient.connect(server.chatUri())) {
            guest.send(Map.of("type", "hello", "name", "u-1001"));
            JsonNode welcome = guest.expect("welcome");

            assertThat(welcome.path("user").asText()).isEqualTo("guest:u-1001");
            assertThat(welcome.path("name").asText()).isEqualTo("u-1001");
            assertThat(welcome.path("guest").asBoolean(false)).isTrue();
            assertThat(welcome.has("validUntil")).as("a guest connection has no token to expire").isFalse();
            assertThat(welcome.path("roles").isArray()).isTrue();
            assertThat(welcome.path("roles")).isEmpty();

            guest.join("guests");
            guest.say("guests", "g1", "hi");
            JsonNode own = guest.expect("message", m -> m.path("id").asText().equals("g1"));
            assertThat(own.path("user").asText()).isEqualTo("guest:u-1001");
            assertThat(own.path("from").asText()).isEqualTo("u-1001");
        }
    }

    @Test
    void aGuestMustStillGiveAName() {
        try (WsClient guest = WsClient.connect(server.chatUri())) {
            guest.send(Map.of("type", "hello"));

            assertThat(guest.expect("error").path("code").asText()).isEqualTo("invalid_name");
        }
    }

    @Test
    void aConnectionEndsWhenItsTokenExpires() throws Exception {
        // The server allows no clock leeway (--token-leeway 0), so the connection lasts until exp.
        Instant exp = wholeSecondAfter(TOKEN_MARGIN);
        String token = token(SECRET, "eve", "Eve", List.of(), exp);
        try (WsClient eve = WsClient.connect(server.chatUri(), Map.of("Authorization", "Bearer " + token))) {
            eve.send(Map.of("type", "hello"));
            JsonNode welcome = eve.expect("welcome");
            assertThat(welcome.get("user").asText()).isEqualTo("eve");
            assertThat(Instant.ofEpochMilli(welcome.get("validUntil").asLong())).isEqualTo(exp);

            assertThat(eve.awaitCloseCode()).isEqualTo(1008);
            // Not before its time (the timer counts whole milliseconds), and not long after.
            assertThat(Instant.now()).isBetween(exp.minusMillis(5), exp.plusSeconds(5));
        }
    }

    @Test
    void aFreshTokenShownInTimeKeepsTheConnectionOpenPastTheOldOnesExpiry() throws Exception {
        Instant oldExp = wholeSecondAfter(TOKEN_MARGIN);
        String old = token(SECRET, "eve", "Eve", List.of(), oldExp);
        try (WsClient eve = WsClient.connect(server.chatUri(), Map.of("Authorization", "Bearer " + old));
             WsClient bob = WsClient.hello(server.chatUri(), "bob")) {
            eve.send(Map.of("type", "hello"));
            // The connection would end at the token's exp (no leeway here), and the welcome says when.
            assertThat(Instant.ofEpochMilli(eve.expect("welcome").get("validUntil").asLong())).isEqualTo(oldExp);
            eve.join("lobby");
            bob.join("lobby");

            Instant fresh = Instant.now().plusSeconds(3600);
            eve.send(Map.of("type", "refresh", "token", token(SECRET, "eve", "Eve", List.of("mod"), fresh), "ref", 7));
            JsonNode refreshed = eve.expect("refreshed");
            assertThat(Instant.now()).as("refreshed before the old token ran out").isBefore(oldExp);
            assertThat(refreshed.get("ref").asInt()).isEqualTo(7);
            assertThat(Instant.ofEpochMilli(refreshed.get("validUntil").asLong()))
                    .isEqualTo(fresh.truncatedTo(ChronoUnit.SECONDS));

            // Wait for the old token's end to pass: that moment is the condition, so the clock is what to watch.
            while (Instant.now().isBefore(oldExp.plusMillis(100))) {
                Thread.sleep(Math.max(1, Duration.between(Instant.now(), oldExp.plusMillis(100)).toMillis()));
            }
            eve.say("lobby", "e1", "still here after the old token ran out");
            assertThat(eve.expect("ack").get("id").asText()).isEqualTo("e1");
            JsonNode seen = bob.expect("message", m -> m.path("id").asText().equals("e1"));
            assertThat(seen.get("user").asText()).isEqualTo("eve");
            assertThat(eve.isClosed()).isFalse();
        }
    }

    /**
     * The first whole second at least {@code margin} from now: a JWT's exp counts whole seconds. The
     * margin covers a handshake and a refresh on a loaded machine; the wait for the expiry is at most a
     * second more.
     */
    private static Instant wholeSecondAfter(Duration margin) {
        Instant at = Instant.now().plus(margin);
        Instant whole = at.truncatedTo(ChronoUnit.SECONDS);
        return whole.equals(at) ? whole : whole.plusSeconds(1);
    }

    @Test
    void aRefreshCannotChangeTheUserAndABadTokenChangesNothing() throws Exception {
        String token = validToken("eve", "Eve");
        try (WsClient eve = WsClient.connect(server.chatUri(), Map.of("Authorization", "Bearer " + token));
             WsClient guest = WsClient.hello(server.chatUri(), "gus")) {
            eve.send(Map.of("type", "hello"));
            eve.expect("welcome");

            eve.send(Map.of("type", "refresh", "token", validToken("mallory", "Mallory")));
            JsonNode other = eve.expect("error");
            assertThat(other.get("code").asText()).isEqualTo("forbidden");
            assertThat(other.get("request").asText()).isEqualTo("refresh");

            eve.send(Map.of("type", "refresh", "token", token(OTHER_SECRET, "eve", "Eve", List.of(),
                    Instant.now().plusSeconds(3600))));
            assertThat(eve.expect("error").get("code").asText()).isEqualTo("unauthorized");
            eve.send(Map.of("type", "refresh", "token", token(SECRET, "eve", "Eve", List.of(),
                    Instant.now().minusSeconds(3600))));
            assertThat(eve.expect("error").get("code").asText()).isEqualTo("unauthorized");
            eve.send(Map.of("type", "refresh"));
            assertThat(eve.expect("error").get("code").asText()).isEqualTo("bad_request");

            guest.send(Map.of("type", "refresh", "token", validToken("gus", "Gus")));
            assertThat(guest.expect("error").get("code").asText()).isEqualTo("forbidden");

            // Still who it was, still connected.
            eve.join("lobby");
            eve.say("lobby", "e2", "hi");
            assertThat(eve.expect("message", m -> m.path("id").asText().equals("e2")).get("user").asText())
                    .isEqualTo("eve");
        }
    }

    static Stream<Arguments> badTokens() {
        Instant later = Instant.now().plusSeconds(3600);
        String payload = Base64.getUrlEncoder().withoutPadding().encodeToString(
                ("{\"sub\":\"u-1\",\"name\":\"Mallory\",\"exp\":" + later.getEpochSecond() + "}")
                        .getBytes(StandardCharsets.UTF_8));
        String noneHeader = Base64.getUrlEncoder().withoutPadding().encodeToString(
                "{\"alg\":\"none\",\"typ\":\"JWT\"}".getBytes(StandardCharsets.UTF_8));
        return Stream.of(
                Arguments.of("expired", token(SECRET, "u-1", "Ada", List.of(), Instant.now().minusSeconds(3600))),
                Arguments.of("signed with another secret", token(OTHER_SECRET, "u-1", "Ada", List.of(), later)),
                Arguments.of("malformed", "this.is-not-a.jwt"),
                Arguments.of("alg none", noneHeader + "." + payload + "."),
                Arguments.of("without a name", JWT.create().withSubject("u-1").withExpiresAt(later)
                        .sign(Algorithm.HMAC256(SECRET))),
                Arguments.of("without an expiry", JWT.create().withSubject("u-1").withClaim("name", "Ada")
                        .sign(Algorithm.HMAC256(SECRET))),
                Arguments.of("a guest's user id", token(SECRET, "guest:ada", "ada", List.of(), later)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badTokens")
    void aBadTokenIsRefusedWith401BeforeTheUpgradeEvenWhereGuestsAreWelcome(String kind, String token) throws Exception {
        String byHeader = rawResponse(server, handshake("/chat", "Authorization: Bearer " + token + "\r\n"));
        assertThat(byHeader).startsWith("HTTP/1.1 401");
        assertThat(byHeader).containsIgnoringCase("\r\nwww-authenticate: Bearer");
        assertThat(byHeader).doesNotContain(token);

        String byQuery = rawResponse(server, handshake("/chat?token=" + token, ""));
        assertThat(byQuery).startsWith("HTTP/1.1 401");
        assertThat(byQuery).containsIgnoringCase("\r\nwww-authenticate: Bearer");

        assertThat(refusedStatus(server.chatUri(), Map.of("Authorization", "Bearer " + token))).isEqualTo(401);

        api = new ApiClient(server.port());
        HttpResponse<String> read = api.get("/api/rooms/lobby/messages", "Authorization", "Bearer " + token);
        assertThat(read.statusCode()).isEqualTo(401);
        assertThat(read.headers().firstValue("WWW-Authenticate")).hasValueSatisfying(v -> assertThat(v).startsWith("Bearer"));
        assertThat(ApiClient.json(read).path("code").asText()).isEqualTo("unauthorized");
    }

    @Test
    void anAuthorizationOtherThanBearerIsRefused() throws Exception {
        String response = rawResponse(server, handshake("/chat", "Authorization: Basic YWRhOnNlY3JldA==\r\n"));

        assertThat(response).startsWith("HTTP/1.1 401");
    }

    @Test
    void aValidTokenIsAcceptedByTheHttpApiAndItsMessagesCarryTheUser() {
        api = new ApiClient(server.port());
        String token = validToken("u-3003", "Linus");

        HttpResponse<String> ack = api.post("api-users", ApiClient.body("p1", "posted with a token"),
                "Authorization", "Bearer " + token, "X-Parley-Name", "not me");
        assertThat(ack.statusCode()).as(ack.body()).isEqualTo(200);

        JsonNode page = ApiClient.json(api.get("/api/rooms/api-users/messages?since=0"));
        assertThat(page.path("messages")).hasSize(1);
        assertThat(page.path("messages").get(0).path("user").asText()).isEqualTo("u-3003");
        assertThat(page.path("messages").get(0).path("from").asText()).isEqualTo("Linus");
    }

    @Test
    void withGuestsOffAConnectionWithoutATokenIsRefusedWith401AndSoIsTheHttpApi() throws Exception {
        try (TestServer members = TestServer.start(dir.resolve("no-guests"),
                c -> c.withAccess(Access.defaults().withTokenSecret(SECRET).withGuests(false)));
             ApiClient membersApi = new ApiClient(members.port())) {
            String refused = rawResponse(members, handshake("/chat", ""));
            assertThat(refused).startsWith("HTTP/1.1 401");
            assertThat(refused).containsIgnoringCase("\r\nwww-authenticate: Bearer");
            assertThat(refusedStatus(members.chatUri(), Map.of())).isEqualTo(401);

            HttpResponse<String> read = membersApi.get("/api/rooms/lobby/messages");
            assertThat(read.statusCode()).isEqualTo(401);
            assertThat(ApiClient.json(read).path("code").asText()).isEqualTo("unauthorized");
            HttpResponse<String> post = membersApi.postAs("ada", "lobby", "x1", "as a guest");
            assertThat(post.statusCode()).isEqualTo(401);
            assertThat(post.headers().firstValue("WWW-Authenticate")).isPresent();

            String token = validToken("u-4004", "Member");
            try (WsClient member = WsClient.connect(members.chatUri(), Map.of("Authorization", "Bearer " + token))) {
                member.send(Map.of("type", "hello"));
                assertThat(member.expect("welcome").path("user").asText()).isEqualTo("u-4004");
            }
            assertThat(membersApi.get("/api/rooms/lobby/messages", "Authorization", "Bearer " + token).statusCode())
                    .isEqualTo(200);
        }
    }

    @Test
    void aServerWithoutATokenSecretRefusesEveryToken() throws Exception {
        try (TestServer guestsOnly = TestServer.start(dir.resolve("no-secret"));
             ApiClient guestsApi = new ApiClient(guestsOnly.port())) {
            String token = validToken("u-1", "Ada");

            String refused = rawResponse(guestsOnly, handshake("/chat", "Authorization: Bearer " + token + "\r\n"));
            assertThat(refused).startsWith("HTTP/1.1 401");
            assertThat(refused).containsIgnoringCase("\r\nwww-authenticate: Bearer");
            assertThat(refusedStatus(URI.create(guestsOnly.chatUri() + "?token=" + token), Map.of()))
                    .isEqualTo(401);
            assertThat(guestsApi.get("/api/rooms/lobby/messages", "Authorization", "Bearer " + token).statusCode())
                    .isEqualTo(401);

            try (WsClient guest = WsClient.hello(guestsOnly.chatUri(), "ada")) {
                guest.send(Map.of("type", "ping"));
                assertThat(guest.expect("pong")).isNotNull();
            }
        }
    }

    @Test
    void parleyTokenMintsATokenTheServerAccepts() {
        StringWriter out = new StringWriter();
        int code = ParleyCommand.commandLine().setOut(new PrintWriter(out))
                .execute("token", "--user", "u-5005", "--name", "Cli User", "--secret", SECRET,
                        "--roles", "admin,ops", "--ttl", "15m");

        assertThat(code).isZero();
        String token = out.toString().strip();
        assertThat(token.split("\\.")).hasSize(3);
        try (WsClient user = WsClient.connect(server.chatUri(), Map.of("Authorization", "Bearer " + token))) {
            user.send(Map.of("type", "hello"));
            JsonNode welcome = user.expect("welcome");
            assertThat(welcome.path("user").asText()).isEqualTo("u-5005");
            assertThat(welcome.path("name").asText()).isEqualTo("Cli User");
            assertThat(welcome.path("roles")).extracting(JsonNode::asText).containsExactly("admin", "ops");
        }
    }

    @Test
    void parleyTokenRefusesAShortSecret() {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = ParleyCommand.commandLine().setOut(new PrintWriter(out)).setErr(new PrintWriter(err))
                .execute("token", "--user", "u-1", "--name", "Ada", "--secret", "too-short");

        assertThat(code).isNotZero();
        assertThat(out.toString()).isEmpty();
        assertThat(err.toString()).contains("at least 32 bytes");
    }
}
