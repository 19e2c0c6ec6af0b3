package io.parley;

import com.fasterxml.jackson.databind.JsonNode;
import io.parley.config.Networks;
import io.parley.config.ServerConfig;
import io.parley.testing.ApiClient;
import io.parley.testing.FreePorts;
import io.parley.testing.TestServer;
import io.parley.testing.WsClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Collectors;
import java.util.function.UnaryOperator;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Parley's own accounts over the HTTP API (docs/PROTOCOL.md, "Accounts"): sign-up, sign-in, the session
 * cookie and the tokens it gets, sign-out; and that those tokens are the server's usual ones, on
 * WebSocket and the HTTP API alike, across a restart.
 */
class AccountsTest {

    @TempDir
    Path dir;
    private TestServer server;
    private ApiClient api;

    private void start(UnaryOperator<ServerConfig.Accounts> accounts) throws Exception {
        server = TestServer.start(dir, c -> c.withAccess(c.access().withAccounts(accounts.apply(c.access().accounts()))));
        api = new ApiClient(server.port());
    }

    private void startOpen() throws Exception {
        start(a -> a.withOpenSignup(true).withSignInsPerMinute(0));
    }

    @AfterEach
    void stop() {
        if (api != null) {
            api.close();
        }
        if (server != null) {
            server.close();
        }
    }

    static String credentials(String name, String password) {
        return WsClient.JSON.valueToTree(Map.of("name", name, "password", password)).toString();
    }

    private HttpResponse<String> post(String path, String body, String... headers) {
        HttpRequest.Builder b = api.request(path, headers);
        if (body != null && b.build().headers().firstValue("Content-Type").isEmpty()) {
            b.header("Content-Type", "application/json");
        }
        return api.send(b.POST(body == null ? HttpRequest.BodyPublishers.noBody()
                : HttpRequest.BodyPublishers.ofString(body)).build());
    }

    private HttpResponse<String> signUp(String name, String password) {
        return post("/api/accounts", credentials(name, password));
    }

    private HttpResponse<String> signIn(String name, String password) {
        return post("/api/session", credentials(name, password));
    }

    /** The session cookie a response set, as a request's Cookie header sends it. */
    static String sessionCookie(HttpResponse<String> response) {
        String header = response.headers().allValues("Set-Cookie").stream()
                .filter(h -> h.startsWith("parley_session=")).findFirst()
                .orElseThrow(() -> new AssertionError("no session cookie: " + response.headers()));
        return header.substring(0, header.indexOf(';'));
    }

    private HttpResponse<String> token(String cookie) {
        return cookie == null ? post("/api/session/token", null) : post("/api/session/token", null, "Cookie", cookie);
    }

    private static String code(HttpResponse<String> response) {
        return ApiClient.json(response).path("code").asText();
    }

    @Test
    void signUpIsClosedUnlessTheServerOpensIt() throws Exception {
        start(a -> a);

        assertThat(ApiClient.json(api.get("/api/accounts")).path("openSignup").asBoolean()).isFalse();
        HttpResponse<String> refused = signUp("ann", "correct horse");
        assertThat(refused.statusCode()).isEqualTo(403);
        assertThat(code(refused)).isEqualTo("signup_closed");
    }

    @Test
    void aSignUpSignsInAtOnceWithAStrictHttpOnlyCookieAndATokenThatChats() throws Exception {
        startOpen();
        assertThat(ApiClient.json(api.get("/api/accounts")).path("openSignup").asBoolean()).isTrue();

        HttpResponse<String> created = signUp("Ann", "correct horse");

        assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
        JsonNode session = ApiClient.json(created);
        assertThat(session.path("type").asText()).isEqualTo("session");
        assertThat(session.path("user").asText()).startsWith("account:");
        assertThat(session.path("name").asText()).isEqualTo("Ann");
        assertThat(session.path("roles").isArray()).isTrue();
        assertThat(session.path("validUntil").asLong()).isGreaterThan(System.currentTimeMillis() + 14 * 60_000);
        String setCookie = created.headers().firstValue("Set-Cookie").orElseThrow();
        assertThat(setCookie).startsWith("parley_session=").contains("Path=/api/session", "SameSite=Strict",
                "Max-Age=2592000").containsIgnoringCase("; HttpOnly").doesNotContainIgnoringCase("Secure");
        assertThat(setCookie.substring("parley_session=".length(), setCookie.indexOf(';'))).hasSize(43);

        try (WsClient ws = WsClient.connect(server.chatUri(), Map.of("Authorization", "Bearer " + session.path("token").asText()))) {
            ws.send(Map.of("type", "hello"));
            JsonNode welcome = ws.expect("welcome");
            assertThat(welcome.path("user").asText()).isEqualTo(session.path("user").asText());
            assertThat(welcome.path("name").asText()).isEqualTo("Ann");
        }
        HttpResponse<String> sent = api.post("lobby", ApiClient.body("m1", "hi"),
                "Authorization", "Bearer " + session.path("token").asText());
        assertThat(sent.statusCode()).as(sent.body()).isEqualTo(200);
    }

    @Test
    void behindAnHttpsPublicUrlTheCookieIsSecure() throws Exception {
        int port = FreePorts.belowEphemeralRange();
        server = TestServer.start(dir, c -> c.withPort(port).withAccess(c.access()
                .withPublicUrl(URI.create("https://127.0.0.1:" + port))
                .withAccounts(c.access().accounts().withOpenSignup(true))));
        api = new ApiClient(server.port());

        HttpResponse<String> created = signUp("Sam", "correct horse");

        assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
        assertThat(created.headers().firstValue("Set-Cookie").orElseThrow()).containsIgnoringCase("; Secure");
    }

    @Test
    void behindATrustedTlsProxyTheCookieIsSecureAndAnUntrustedHeaderChangesNothing() throws Exception {
        server = TestServer.start(dir, c -> c.withAdmission(c.admission()
                        .withTrustedProxies(Networks.parse("trusted proxy", List.of("127.0.0.1"))))
                .withAccess(c.access().withAccounts(c.access().accounts().withOpenSignup(true))));
        api = new ApiClient(server.port());

        HttpResponse<String> proxied = post("/api/accounts", credentials("Tia", "correct horse"),
                "X-Forwarded-Proto", "https");
        assertThat(proxied.statusCode()).as(proxied.body()).isEqualTo(201);
        assertThat(proxied.headers().firstValue("Set-Cookie").orElseThrow()).containsIgnoringCase("; Secure");

        server.close();
        server = TestServer.start(dir, c -> c.withAccess(c.access().withAccounts(c.access().accounts().withOpenSignup(true))));
        api = new ApiClient(server.port());
        HttpResponse<String> direct = post("/api/session", credentials("Tia", "correct horse"), "X-Forwarded-Proto", "https");
        assertThat(direct.statusCode()).as(direct.body()).isEqualTo(200);
        assertThat(direct.headers().firstValue("Set-Cookie").orElseThrow()).doesNotContainIgnoringCase("Secure");
    }

    @Test
    void theCookieGetsFreshTokensUntilSignOutRevokesIt() throws Exception {
        startOpen();
        String cookie = sessionCookie(signUp("bob", "correct horse"));

        HttpResponse<String> fresh = token(cookie);
        assertThat(fresh.statusCode()).as(fresh.body()).isEqualTo(200);
        assertThat(ApiClient.json(fresh).path("name").asText()).isEqualTo("bob");
        assertThat(fresh.headers().allValues("Set-Cookie")).as("a refresh sets no new cookie").isEmpty();

        HttpResponse<String> none = token(null);
        assertThat(none.statusCode()).isEqualTo(401);
        assertThat(code(none)).isEqualTo("unauthorized");
        assertThat(token("parley_session=" + "A".repeat(43)).statusCode()).isEqualTo(401);

        HttpResponse<String> out = api.send(api.request("/api/session", "Cookie", cookie).DELETE().build());
        assertThat(out.statusCode()).isEqualTo(204);
        assertThat(out.headers().firstValue("Set-Cookie").orElseThrow()).startsWith("parley_session=;").contains("Max-Age=0");
        HttpResponse<String> after = token(cookie);
        assertThat(after.statusCode()).isEqualTo(401);
        assertThat(code(after)).isEqualTo("unauthorized");
    }

    @Test
    void aWrongPasswordAndAnUnknownNameGetTheSameAnswer() throws Exception {
        startOpen();
        signUp("carol", "correct horse");

        HttpResponse<String> wrong = signIn("carol", "wrong horse!");
        HttpResponse<String> unknown = signIn("nobody", "wrong horse!");

        assertThat(wrong.statusCode()).isEqualTo(401);
        assertThat(unknown.statusCode()).isEqualTo(401);
        assertThat(ApiClient.json(wrong)).isEqualTo(ApiClient.json(unknown));
        assertThat(code(wrong)).isEqualTo("bad_credentials");

        HttpResponse<String> right = signIn("CAROL", "correct horse");
        assertThat(right.statusCode()).as("the name is found whatever its case").isEqualTo(200);
        assertThat(ApiClient.json(right).path("name").asText()).isEqualTo("carol");
    }

    @Test
    void anUnknownNameTakesAboutAsLongAsAWrongPassword() throws Exception {
        startOpen();
        signUp("dave", "correct horse");
        signIn("dave", "warm up the JIT");
        signIn("nobody", "warm up the JIT");

        long known = 0;
        long unknown = 0;
        for (int i = 0; i < 5; i++) {
            long t0 = System.nanoTime();
            signIn("dave", "wrong horse!");
            long t1 = System.nanoTime();
            signIn("nobody-" + i, "wrong horse!");
            long t2 = System.nanoTime();
            known += t1 - t0;
            unknown += t2 - t1;
        }
        // Without the dummy hash an unknown name answers in about a millisecond instead of tens.
        assertThat((double) unknown).as("unknown %d ms, known %d ms", unknown / 5_000_000, known / 5_000_000)
                .isGreaterThan(known * 0.5);
    }

    @Test
    void aNameThatLooksLikeAnAccountsIsTakenAndBadNamesAndPasswordsAreRefused() throws Exception {
        startOpen();
        assertThat(signUp("Alice", "correct horse").statusCode()).isEqualTo(201);

        for (String lookalike : new String[] {"alice", "\u0410lice", "AIice", " Alice "}) {
            HttpResponse<String> taken = signUp(lookalike, "another horse");
            assertThat(taken.statusCode()).as(lookalike).isEqualTo(409);
            assertThat(code(taken)).isEqualTo("name_taken");
        }
        HttpResponse<String> badName = signUp("Al\u200Bice", "correct horse");
        assertThat(badName.statusCode()).isEqualTo(400);
        assertThat(code(badName)).isEqualTo("invalid_name");
        for (String weak : new String[] {"short", "x".repeat(1025), "\uD83D\uDE00".repeat(7)}) {
            HttpResponse<String> refused = signUp("Erin", weak);
            assertThat(refused.statusCode()).isEqualTo(400);
            assertThat(code(refused)).isEqualTo("weak_password");
        }
        assertThat(signUp("Erin", "\uD83D\uDE00".repeat(8)).statusCode())
                .as("8 code points are enough, however many UTF-16 units").isEqualTo(201);
    }

    @Test
    void signInTakesOnlyJsonFromThisSiteWithinBounds() throws Exception {
        startOpen();

        HttpResponse<String> form = post("/api/session", "name=a&password=b", "Content-Type",
                "application/x-www-form-urlencoded");
        assertThat(form.statusCode()).isEqualTo(400);
        assertThat(code(form)).isEqualTo("bad_request");
        HttpResponse<String> foreign = post("/api/session", credentials("a", "b"), "Origin", "https://evil.example");
        assertThat(foreign.statusCode()).isEqualTo(403);
        assertThat(code(foreign)).isEqualTo("forbidden");
        HttpResponse<String> notJson = post("/api/session", "{nope");
        assertThat(code(notJson)).isEqualTo("bad_json");
        HttpResponse<String> wrongShape = post("/api/session", "{\"name\": 5, \"password\": \"x\"}");
        assertThat(code(wrongShape)).isEqualTo("bad_request");
        HttpResponse<String> huge = post("/api/session", credentials("a", "p".repeat(9000)));
        assertThat(huge.statusCode()).isEqualTo(413);
        HttpResponse<String> put = api.send(api.request("/api/session").PUT(HttpRequest.BodyPublishers.noBody()).build());
        assertThat(put.statusCode()).isEqualTo(405);
        assertThat(put.headers().firstValue("Allow")).hasValue("POST, DELETE");
    }

    @Test
    void signInsFromOneAddressAreRateLimited() throws Exception {
        start(a -> a.withOpenSignup(true).withSignInsPerMinute(3));

        for (int i = 0; i < 3; i++) {
            assertThat(signIn("nobody", "wrong horse!").statusCode()).isEqualTo(401);
        }
        HttpResponse<String> limited = signIn("nobody", "wrong horse!");

        assertThat(limited.statusCode()).isEqualTo(429);
        assertThat(code(limited)).isEqualTo("rate_limited");
        assertThat(ApiClient.json(limited).path("retryAfter").asLong()).isBetween(1L, 60_000L);
        assertThat(limited.headers().firstValue("Retry-After")).isPresent();
        assertThat(code(signUp("frank", "correct horse"))).as("sign-ups count too").isEqualTo("rate_limited");
        assertThat(api.get("/api/accounts").statusCode()).as("other requests do not").isEqualTo(200);
    }

    @Test
    void aSessionAndItsTokensOutliveARestartWithTheGeneratedSecret() throws Exception {
        startOpen();
        HttpResponse<String> created = signUp("grace", "correct horse");
        String cookie = sessionCookie(created);
        String token = ApiClient.json(created).path("token").asText();
        server.close();
        api.close();
        api = null;

        startOpen();
        HttpResponse<String> sent = api.post("lobby", ApiClient.body("g1", "after the restart"),
                "Authorization", "Bearer " + token);
        assertThat(sent.statusCode()).as("the secret was kept in the database: " + sent.body()).isEqualTo(200);
        assertThat(token(cookie).statusCode()).isEqualTo(200);
    }

    @Test
    void aGuestCannotTakeARegisteredNameNorALookAlikeOverWebSocketOrHttp() throws Exception {
        startOpen();
        assertThat(signUp("Heidi", "correct horse").statusCode()).isEqualTo(201);

        for (String name : new String[] {"Heidi", "heidi", "H\u0435idi"}) { // Cyrillic е
            try (WsClient c = WsClient.connect(server.chatUri())) {
                c.send(Map.of("type", "hello", "name", name));
                JsonNode reply = c.take(1, m -> m.path("type").asText().matches("welcome|error")).getFirst();
                assertThat(reply.path("code").asText()).as(name + ": " + reply).isEqualTo("invalid_name");
            }
            HttpResponse<String> sent = api.post("lobby", ApiClient.body("h-" + name.hashCode(), "hi"), "X-Parley-Name",
                    URLEncoder.encode(name, StandardCharsets.UTF_8));
            assertThat(sent.statusCode()).as(name).isEqualTo(400);
            assertThat(code(sent)).isEqualTo("invalid_name");
        }
        try (WsClient other = WsClient.hello(server.chatUri(), "Heidrun")) {
            assertThat(other.isClosed()).isFalse();
        }
    }

    @Test
    void aFloodOfSignInsHashesOnHalfTheCoresRefusesTheRestAndLeavesTokensFast() throws Exception {
        startOpen();
        String cookie = sessionCookie(signUp("ivy", "correct horse"));
        int attempts = 120;
        List<CompletableFuture<HttpResponse<String>>> flood = new ArrayList<>();
        for (int i = 0; i < attempts; i++) {
            flood.add(api.sendAsync(api.request("/api/session", "Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(credentials("ivy", "wrong horse " + i))).build()));
        }
        int hashing = 0;
        List<Long> tokenMillis = new ArrayList<>();
        while (flood.stream().anyMatch(f -> !f.isDone())) {
            hashing = Math.max(hashing, (int) Thread.getAllStackTraces().keySet().stream()
                    .filter(t -> t.getName().startsWith(server.server().name() + "-passwords")).count());
            long t0 = System.nanoTime();
            assertThat(token(cookie).statusCode()).isEqualTo(200);
            tokenMillis.add((System.nanoTime() - t0) / 1_000_000);
        }
        Map<Integer, Long> statuses = flood.stream().map(CompletableFuture::join)
                .collect(Collectors.groupingBy(HttpResponse::statusCode, Collectors.counting()));

        assertThat(hashing).as("password threads").isBetween(1, Math.max(1, Runtime.getRuntime().availableProcessors() / 2));
        assertThat(statuses.keySet()).as(statuses.toString()).containsOnly(401, 503);
        assertThat(statuses.get(503)).as("refused at once, past the queue: " + statuses).isPositive();
        tokenMillis.sort(null);
        long median = tokenMillis.get(tokenMillis.size() / 2);
        System.out.printf("sign-in flood: %s; tokens during it: %d, median %d ms, slowest %d ms%n", statuses,
                tokenMillis.size(), median, tokenMillis.getLast());
        // Behind the queue of hashes a token would wait seconds (32 hashes of tens to 150 ms each, on one thread).
        assertThat(median).as("a token, which needs no hash, does not wait behind the flood").isLessThan(1000);
    }
}
