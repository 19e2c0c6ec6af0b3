package io.parley;

import com.fasterxml.jackson.databind.JsonNode;
import io.parley.config.ServerConfig.Access;
import io.parley.config.Networks;
import io.parley.testing.ApiClient;
import io.parley.testing.RawSocket;
import io.parley.testing.TestServer;
import io.parley.testing.WsClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.net.http.WebSocketHandshakeException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicInteger;

import static io.parley.AccessTest.SECRET;
import static io.parley.AccessTest.validToken;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Admission (ServerConfig.Admission): request rates per connection and per user, connection limits
 * per address and in total, and the deadline for a whole HTTP request (slow loris). Whoever is over a
 * limit is told so; everybody else keeps chatting.
 */
class LimitsTest {

    private static final HttpClient HTTP = HttpClient.newHttpClient();

    @TempDir
    Path dir;

    private static String handshake() {
        return "GET /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    }

    private static boolean isReplyToSend(JsonNode m) {
        return m.path("type").asText().equals("ack")
                || m.path("type").asText().equals("error") && m.path("request").asText().equals("send");
    }

    private static List<String> ids(List<JsonNode> messages) {
        return messages.stream().map(m -> m.path("id").asText()).toList();
    }

    /** What {@code watcher} receives up to and including the message with id {@code marker}. */
    private static List<JsonNode> messagesUntil(WsClient watcher, String marker) {
        List<JsonNode> seen = new ArrayList<>();
        JsonNode m;
        do {
            m = watcher.expect("message");
            seen.add(m);
        } while (!m.path("id").asText().equals(marker));
        return seen;
    }

    private static WsClient user(TestServer server, String sub, String name) {
        WsClient c = WsClient.connect(server.chatUri(), Map.of("Authorization", "Bearer " + validToken(sub, name)));
        c.send(Map.of("type", "hello"));
        c.expect("welcome");
        return c;
    }

    @Test
    void aConnectionSendingFasterThanItsRateIsToldWhenToRetryAndNothingRefusedIsStored() throws Exception {
        try (TestServer server = TestServer.start(dir);
             ApiClient api = new ApiClient(server.port());
             WsClient ada = WsClient.hello(server.chatUri(), "ada");
             WsClient bob = WsClient.hello(server.chatUri(), "bob")) {
            bob.join("flood");
            ada.join("flood");

            // Default: 10 a second, in bursts of 20. Forty at once is well over.
            for (int i = 0; i < 40; i++) {
                ada.say("flood", "f" + i, "message " + i);
            }
            List<JsonNode> replies = ada.take(40, LimitsTest::isReplyToSend);
            List<JsonNode> acks = replies.stream().filter(m -> m.path("type").asText().equals("ack")).toList();
            List<JsonNode> refused = replies.stream().filter(m -> m.path("type").asText().equals("error")).toList();

            assertThat(acks.size()).as("a burst of twice the rate passes").isGreaterThanOrEqualTo(20);
            assertThat(refused).isNotEmpty();
            assertThat(refused).allSatisfy(e -> {
                assertThat(e.path("code").asText()).isEqualTo("rate_limited");
                assertThat(e.path("retryAfter").isIntegralNumber()).as(e.toString()).isTrue();
                assertThat(e.path("retryAfter").asLong()).isPositive();
                assertThat(e.path("room").asText()).isEqualTo("flood");
                assertThat(e.path("id").asText()).startsWith("f");
            });

            // The bystander keeps chatting, and saw exactly the messages that were acknowledged.
            bob.say("flood", "bob-1", "still here");
            List<String> bobSaw = ids(messagesUntil(bob, "bob-1"));
            List<String> acked = ids(acks);
            assertThat(bobSaw.subList(0, bobSaw.size() - 1)).containsExactlyInAnyOrderElementsOf(acked);
            HttpResponse<String> stored = api.get("/api/rooms/flood/messages?since=0&limit=100");
            assertThat(ids(toList(ApiClient.json(stored).path("messages"))))
                    .containsExactlyInAnyOrderElementsOf(append(acked, "bob-1"));

            // Waiting as long as it was told is enough to be let through again.
            long retryAfter = refused.getLast().path("retryAfter").asLong();
            Thread.sleep(retryAfter + 50);
            ada.say("flood", "later", "after waiting");
            assertThat(ada.take(1, LimitsTest::isReplyToSend).getFirst().path("type").asText()).isEqualTo("ack");
        }
    }

    @Test
    void theUserRateCountsEveryConnectionAndHttpRequestOfThatUser() throws Exception {
        try (TestServer server = TestServer.start(dir, c -> c
                .withAccess(Access.defaults().withTokenSecret(SECRET))
                // Each connection may send 10 a second (bursts of 20); the user, 4 (bursts of 8).
                .withAdmission(c.admission().withRates(10, 4, 50)));
             ApiClient api = new ApiClient(server.port());
             WsClient phone = user(server, "u-ada", "Ada");
             WsClient laptop = user(server, "u-ada", "Ada");
             WsClient bob = user(server, "u-bob", "Bob")) {
            phone.join("per-user");
            laptop.join("per-user");
            bob.join("per-user");

            // 15 from each connection: within each connection's burst, three times the user's.
            for (int i = 0; i < 15; i++) {
                phone.say("per-user", "p" + i, "from the phone");
                laptop.say("per-user", "l" + i, "from the laptop");
            }
            List<JsonNode> replies = new ArrayList<>(phone.take(15, LimitsTest::isReplyToSend));
            replies.addAll(laptop.take(15, LimitsTest::isReplyToSend));
            List<JsonNode> refused = replies.stream().filter(m -> m.path("type").asText().equals("error")).toList();

            assertThat(refused).isNotEmpty();
            assertThat(refused).allSatisfy(e -> {
                assertThat(e.path("code").asText()).isEqualTo("rate_limited");
                assertThat(e.path("message").asText()).contains("one user");
                assertThat(e.path("retryAfter").asLong()).isPositive();
            });

            // Another user is not held back by Ada's rate.
            for (int i = 0; i < 5; i++) {
                bob.say("per-user", "b" + i, "bob speaking");
            }
            assertThat(bob.take(5, LimitsTest::isReplyToSend)).extracting(m -> m.path("type").asText())
                    .containsOnly("ack");

            // Over HTTP, Ada is the same user with the same allowance.
            HttpResponse<String> limited = null;
            for (int i = 0; i < 40 && limited == null; i++) {
                HttpResponse<String> r = api.post("per-user", ApiClient.body("h" + i, "over http"),
                        "Authorization", "Bearer " + validToken("u-ada", "Ada"));
                if (r.statusCode() != 200) {
                    limited = r;
                }
            }
            assertThat(limited).as("an HTTP post over the user's rate").isNotNull();
            assertThat(limited.statusCode()).isEqualTo(429);
            assertThat(ApiClient.json(limited).path("code").asText()).isEqualTo("rate_limited");
            assertThat(limited.headers().firstValue("Retry-After").map(Long::parseLong)).hasValueSatisfying(
                    s -> assertThat(s).isPositive());
        }
    }

    @Test
    void framesBeyondTheRequestRateAreRefusedWithoutClosingTheConnection() throws Exception {
        try (TestServer server = TestServer.start(dir);
             WsClient noisy = WsClient.hello(server.chatUri(), "noisy");
             WsClient bob = WsClient.hello(server.chatUri(), "bob")) {
            bob.join("quiet");

            // Default: 50 requests a second, in bursts of 100; junk counts like any frame. Letting all
            // 300 through would take the sender 4 s.
            for (int i = 0; i < 300; i++) {
                noisy.sendRaw("junk " + i);
            }
            List<JsonNode> errors = noisy.take(300, m -> m.path("type").asText().equals("error"));
            List<JsonNode> limited = errors.stream().filter(e -> e.path("code").asText().equals("rate_limited")).toList();
            long badJson = errors.stream().filter(e -> e.path("code").asText().equals("bad_json")).count();

            assertThat(badJson + limited.size()).isEqualTo(300);
            assertThat(badJson).as("a burst of twice the rate is read").isGreaterThanOrEqualTo(99);
            assertThat(limited).isNotEmpty();
            assertThat(limited).allSatisfy(e -> assertThat(e.path("retryAfter").asLong()).isPositive());

            bob.say("quiet", "b1", "unbothered");
            assertThat(bob.expect("ack").path("id").asText()).isEqualTo("b1");

            Thread.sleep(limited.getLast().path("retryAfter").asLong() + 50);
            noisy.send(Map.of("type", "ping"));
            assertThat(noisy.expect("pong")).isNotNull();
            assertThat(noisy.isClosed()).isFalse();
        }
    }

    @Test
    void anAddressOverItsConnectionLimitIsTold429WhileItsOpenConnectionsKeepChatting() throws Exception {
        try (TestServer server = TestServer.start(dir, c -> c.withAdmission(c.admission().withConnections(100, 2)));
             WsClient ada = WsClient.hello(server.chatUri(), "ada");
             WsClient bob = WsClient.hello(server.chatUri(), "bob")) {
            bob.join("lobby");
            ada.join("lobby");

            try (RawSocket third = new RawSocket(server.port())) {
                String head = third.request(handshake());
                String body = third.body(head);
                assertThat(head).startsWith("HTTP/1.1 429");
                assertThat(head).containsIgnoringCase("\r\nretry-after:");
                assertThat(body).contains("Too many connections from your address");
                assertThat(third.closedByServer()).isTrue();
            }
            assertThat(handshakeStatus(server)).isEqualTo(429);

            ada.say("lobby", "a1", "we are still here");
            assertThat(bob.expect("message", m -> m.path("id").asText().equals("a1"))).isNotNull();
        }
    }

    @Test
    void behindATrustedProxyEachClientHasItsOwnConnectionLimit() throws Exception {
        try (TestServer server = TestServer.start(dir, c -> c.withAdmission(c.admission().withConnections(100, 2)
                .withTrustedProxies(Networks.parse("trusted proxy", List.of("127.0.0.0/8")))))) {
            // The proxy writes the address it was reached from; what the client wrote before it is ignored.
            String ada = "203.0.113.5";
            String forgedThenAda = "198.51.100.77, " + ada;
            List<WsClient> open = new ArrayList<>();
            try {
                open.add(helloAs(server, ada, "ada1"));
                open.add(helloAs(server, forgedThenAda, "ada2"));
                assertThat(handshakeStatus(server, ada)).as("a third WebSocket of one client").isEqualTo(429);

                // Everyone else behind the same proxy still gets in, the proxy's own address included.
                open.add(helloAs(server, "203.0.113.6", "bob"));
                open.add(helloAs(server, "2001:db8::6", "cy"));
                open.add(WsClient.hello(server.chatUri(), "direct"));

                open.getFirst().close();
                long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
                int status;
                while ((status = handshakeStatus(server, ada)) == 429 && System.nanoTime() < deadline) {
                    Thread.sleep(50);
                }
                assertThat(status).as("once one of its WebSockets closed").isEqualTo(101);
            } finally {
                open.forEach(WsClient::close);
            }
        }
    }

    @Test
    void httpRequestsForwardedByATrustedProxyCountAgainstTheirClientNotTheProxysConnection() throws Exception {
        // One request a second, in bursts of two.
        try (TestServer server = TestServer.start(dir, c -> c.withAdmission(c.admission().withRates(10, 20, 1)
                .withTrustedProxies(Networks.parse("trusted proxy", List.of("127.0.0.1")))));
             ApiClient proxy = new ApiClient(server.port())) {
            String path = "/api/rooms/lobby/messages";
            int allowed = 0;
            HttpResponse<String> r;
            while ((r = proxy.get(path, "X-Forwarded-For", "203.0.113.5")).statusCode() == 200 && allowed < 10) {
                allowed++;
            }
            assertThat(r.statusCode()).as(r.body()).isEqualTo(429);
            assertThat(allowed).as("requests allowed before the client was held back (a burst of two)").isGreaterThanOrEqualTo(2);

            // Another client over the same proxy, most likely the same pooled connection: not held back.
            assertThat(proxy.get(path, "X-Forwarded-For", "203.0.113.6").statusCode()).isEqualTo(200);
        }
    }

    @Test
    void guestsOfOneAddressShareItsAllowanceWhateverNameOrConnectionTheyUse() throws Exception {
        // Guests from one address may store 2 a second together, bursts of 4.
        try (TestServer server = TestServer.start(dir, c -> c
                .withAccess(Access.defaults().withTokenSecret(SECRET))
                .withAdmission(c.admission().withGuestSendsPerAddress(2)));
             ApiClient api = new ApiClient(server.port())) {
            List<Integer> statuses = new ArrayList<>();
            HttpResponse<String> limited = null;
            for (int i = 0; i < 12; i++) {
                // A new name each time: a user of its own, with a fresh per-user allowance.
                HttpResponse<String> r = api.postAs("guest" + i, "per-address", "g" + i, "hello");
                statuses.add(r.statusCode());
                if (r.statusCode() == 429 && limited == null) {
                    limited = r;
                }
            }
            assertThat(limited).as("a guest post over the address's rate; statuses %s", statuses).isNotNull();
            assertThat(ApiClient.json(limited).path("code").asText()).isEqualTo("rate_limited");
            assertThat(ApiClient.json(limited).path("message").asText()).contains("guests from one address");
            assertThat(limited.headers().firstValue("Retry-After")).isPresent();

            // Over WebSocket, a new connection and a new name draw on the same allowance.
            try (WsClient fresh = WsClient.hello(server.chatUri(), "newcomer")) {
                fresh.join("per-address");
                for (int i = 0; i < 10; i++) {
                    fresh.say("per-address", "w" + i, "me too");
                }
                assertThat(fresh.take(10, LimitsTest::isReplyToSend))
                        .filteredOn(m -> m.path("type").asText().equals("error"))
                        .as("sends refused on a new connection under a new name").isNotEmpty()
                        .allSatisfy(e -> assertThat(e.path("message").asText()).contains("guests from one address"));
            }

            // A signed-in user from the same address is not a guest: not held to it.
            HttpResponse<String> user = api.post("per-address", ApiClient.body("u1", "signed in"),
                    "Authorization", "Bearer " + validToken("u-ada", "Ada"));
            assertThat(user.statusCode()).as(user.body()).isEqualTo(200);
        }
    }

    @Test
    void behindATrustedProxyGuestsCountAgainstTheForwardedClientsAddress() throws Exception {
        try (TestServer server = TestServer.start(dir, c -> c.withAdmission(c.admission().withGuestSendsPerAddress(1)
                .withTrustedProxies(Networks.parse("trusted proxy", List.of("127.0.0.1")))));
             ApiClient proxy = new ApiClient(server.port())) {
            int status = 200;
            for (int i = 0; i < 10 && status == 200; i++) {
                status = proxy.post("forwarded", ApiClient.body("a" + i, "hi"),
                        "X-Parley-Name", "g" + i, "X-Forwarded-For", "203.0.113.5").statusCode();
            }
            assertThat(status).as("a guest of 203.0.113.5 over its address's rate").isEqualTo(429);
            HttpResponse<String> other = proxy.post("forwarded", ApiClient.body("b0", "hi"),
                    "X-Parley-Name", "h0", "X-Forwarded-For", "203.0.113.6");
            assertThat(other.statusCode()).as("another client behind the same proxy: %s", other.body()).isEqualTo(200);
        }
    }

    @Test
    void withoutATrustedProxyAForwardedForHeaderChangesNothing() throws Exception {
        try (TestServer server = TestServer.start(dir, c -> c.withAdmission(c.admission().withConnections(100, 2)));
             WsClient first = helloAs(server, "203.0.113.5", "ada");
             WsClient second = helloAs(server, "203.0.113.6", "bob")) {
            assertThat(handshakeStatus(server, "203.0.113.7")).isEqualTo(429);
        }
    }

    @Test
    void aClosedConnectionGivesBackItsSlot() throws Exception {
        try (TestServer server = TestServer.start(dir, c -> c.withAdmission(c.admission().withConnections(100, 1)));
             ApiClient api = new ApiClient(server.port())) {
            // A plain HTTP connection, closed by the client.
            assertThat(api.get("/healthz").statusCode()).isEqualTo(200);
            api.close();
            assertThat(eventuallyAdmitted(server)).as("the slot of a closed HTTP connection").isTrue();

            // A WebSocket connection, closed by the client. The probe's own slot is given back a moment
            // after the client sees its connection end, so the first try may still find it taken.
            WsClient ada = helloOnceAdmitted(server);
            assertThat(handshakeStatus(server)).isEqualTo(429);
            ada.close();
            assertThat(eventuallyAdmitted(server)).as("the slot of a closed WebSocket connection").isTrue();
        }
    }

    @Test
    void aServerAtItsConnectionLimitAnswers503() throws Exception {
        try (TestServer server = TestServer.start(dir, c -> c.withAdmission(c.admission().withConnections(2, 100)));
             WsClient ada = WsClient.hello(server.chatUri(), "ada");
             WsClient bob = WsClient.hello(server.chatUri(), "bob");
             RawSocket third = new RawSocket(server.port())) {
            String head = third.request(handshake());
            String body = third.body(head);

            assertThat(head).startsWith("HTTP/1.1 503");
            assertThat(head).containsIgnoringCase("\r\nretry-after:");
            assertThat(body).contains("connection limit");

            bob.join("lobby");
            ada.join("lobby");
            ada.say("lobby", "a1", "still chatting");
            assertThat(bob.expect("message", m -> m.path("id").asText().equals("a1"))).isNotNull();
        }
    }

    @Test
    void aSlowLorisIsClosedAtTheRequestDeadlineWhileOthersGetIn() throws Exception {
        try (TestServer server = TestServer.start(dir, c -> c.withAdmission(
                c.admission().withHandshakeTimeout(Duration.ofSeconds(1))));
             RawSocket loris = new RawSocket(server.port())) {
            String request = handshake();
            AtomicInteger written = new AtomicInteger();
            Thread trickle = Thread.ofVirtual().start(() -> {
                try {
                    for (char b : request.toCharArray()) {
                        loris.write(String.valueOf(b));
                        written.incrementAndGet();
                        Thread.sleep(200);
                    }
                } catch (IOException | InterruptedException closed) {
                    // The server hung up: what this test waits for.
                }
            });

            // Meanwhile an ordinary client connects and chats.
            try (WsClient ada = WsClient.hello(server.chatUri(), "ada")) {
                ada.join("lobby");
                ada.say("lobby", "a1", "not slowed down");
                assertThat(ada.expect("ack").path("id").asText()).isEqualTo("a1");
            }

            assertThat(loris.readHead()).as("part of a request arrived").startsWith("HTTP/1.1 408");
            assertThat(loris.closedByServer()).isTrue();
            assertThat(written.get()).as("closed long before the request was complete").isLessThan(request.length() / 2);
            trickle.interrupt();
            trickle.join();
        }
    }

    @Test
    void aBodyTrickledPastTheDeadlineIsAnswered408AndASilentConnectionIsClosed() throws Exception {
        try (TestServer server = TestServer.start(dir, c -> c.withAdmission(
                c.admission().withHandshakeTimeout(Duration.ofSeconds(1))));
             RawSocket slowBody = new RawSocket(server.port());
             RawSocket silent = new RawSocket(server.port())) {
            slowBody.write("POST /api/rooms/lobby/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    + "Content-Type: application/json\r\nX-Parley-Name: loris\r\nContent-Length: 200\r\n\r\n{");

            String head = slowBody.readHead();
            assertThat(head).startsWith("HTTP/1.1 408");
            assertThat(slowBody.closedByServer()).isTrue();
            assertThat(silent.closedByServer()).isTrue();
        }
    }

    private static WsClient helloOnceAdmitted(TestServer server) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (true) {
            try {
                return WsClient.hello(server.chatUri(), "ada");
            } catch (Exception e) {
                if (System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(20);
            }
        }
    }

    private static WsClient helloAs(TestServer server, String forwardedFor, String name) {
        WsClient c = WsClient.connect(server.chatUri(), Map.of("X-Forwarded-For", forwardedFor));
        c.send(Map.of("type", "hello", "name", name));
        c.expect("welcome");
        return c;
    }

    private static int handshakeStatus(TestServer server) {
        return handshakeStatus(server, null);
    }

    /** The handshake's status, with {@code X-Forwarded-For} set to {@code forwardedFor} unless null. */
    private static int handshakeStatus(TestServer server, String forwardedFor) {
        WebSocket.Builder builder = HTTP.newWebSocketBuilder();
        if (forwardedFor != null) {
            builder.header("X-Forwarded-For", forwardedFor);
        }
        var attempt = builder.buildAsync(server.chatUri(), new WebSocket.Listener() { });
        try {
            attempt.join().abort();
            return 101;
        } catch (CompletionException e) {
            return ((WebSocketHandshakeException) e.getCause()).getResponse().statusCode();
        }
    }

    /**
     * Whether a new connection is let in within a few seconds: the server frees a slot once it sees a
     * connection close. Asks over plain HTTP, whose connection gives its slot back as it closes.
     */
    private static boolean eventuallyAdmitted(TestServer server) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (System.nanoTime() < deadline) {
            try (RawSocket s = new RawSocket(server.port())) {
                String head = s.request("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
                if (head.startsWith("HTTP/1.1 200")) {
                    s.body(head);
                    return true;
                }
            }
            Thread.sleep(50);
        }
        return false;
    }

    private static List<JsonNode> toList(JsonNode array) {
        List<JsonNode> out = new ArrayList<>();
        array.forEach(out::add);
        return out;
    }

    private static List<String> append(List<String> list, String last) {
        List<String> out = new ArrayList<>(list);
        out.add(last);
        return out;
    }
}
