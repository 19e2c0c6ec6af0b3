package io.parley;

import com.fasterxml.jackson.databind.JsonNode;
import io.parley.testing.RawSocket;
import io.parley.testing.StoredHistory;
import io.parley.testing.TestServer;
import io.parley.testing.WsClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

class LifecycleTest {

    @TempDir
    Path dir;

    @Test
    void shutdownClosesClientsWith1001AndKeepsWhatWasAcknowledged() throws Exception {
        TestServer server = TestServer.start(dir, TestServer.UNTHROTTLED);
        WsClient ada = WsClient.hello(server.chatUri(), "ada");
        ada.join("lobby");
        for (int i = 1; i <= 50; i++) {
            ada.say("lobby", "m" + i, "text " + i);
        }
        ada.collect("ack", 50);

        server.close();

        assertThat(ada.awaitCloseCode()).isEqualTo(1001);
        assertThat(ada.closeReason()).contains("shutting down");
        try (TestServer again = TestServer.start(dir, TestServer.UNTHROTTLED);
             WsClient bob = WsClient.hello(again.chatUri(), "bob")) {
            assertThat(bob.join("lobby").get("seq").asLong()).isEqualTo(50);
        }
    }

    @Test
    void messagesInFlightAtShutdownAreEitherAcknowledgedAndStoredOrRefused() throws Exception {
        TestServer server = TestServer.start(dir, TestServer.UNTHROTTLED);
        WsClient ada = WsClient.hello(server.chatUri(), "ada");
        ada.join("lobby");
        for (int i = 1; i <= 200; i++) {
            ada.say("lobby", "m" + i, "text " + i);
        }
        server.close();
        // Everything the server said before its close frame: acks, and refusals of what came too late.
        // They all arrive before the close, however slow the machine; a fixed window could miss some.
        List<JsonNode> answers = untilClosed(ada);
        List<String> acked = answers.stream().filter(m -> "ack".equals(m.path("type").asText()))
                .map(m -> m.get("id").asText()).toList();
        List<String> refused = answers.stream().filter(m -> "error".equals(m.path("type").asText()))
                .map(m -> m.path("id").asText()).toList();
        Map<String, Long> ackedSeqs = new LinkedHashMap<>();
        answers.stream().filter(m -> "ack".equals(m.path("type").asText()))
                .forEach(m -> ackedSeqs.put(m.get("id").asText(), m.get("seq").asLong()));

        // Stored is exactly what was acknowledged, at the seqs the acks named: nothing refused or
        // unanswered slipped in, nothing acknowledged was lost.
        List<StoredHistory.Row> stored = StoredHistory.fromFile(dir).getOrDefault("lobby", List.of());
        Map<String, Long> storedSeqs = new LinkedHashMap<>();
        stored.forEach(r -> storedSeqs.put(r.id(), r.seq()));
        assertThat(storedSeqs).as("stored messages and their seqs").isEqualTo(ackedSeqs);
        assertThat(refused).as("refused messages that were stored").filteredOn(storedSeqs::containsKey).isEmpty();
        // Messages are handled in the order sent: the acknowledged ones are the first ones.
        assertThat(acked).isEqualTo(java.util.stream.IntStream.rangeClosed(1, acked.size()).mapToObj(i -> "m" + i).toList());
        StoredHistory.assertGapless("lobby", stored.stream().map(StoredHistory.Row::seq).toList());

        try (TestServer again = TestServer.start(dir, TestServer.UNTHROTTLED);
             WsClient bob = WsClient.hello(again.chatUri(), "bob")) {
            assertThat(bob.join("lobby").get("seq").asLong()).isEqualTo(acked.size());
        }
    }

    @Test
    void silentConnectionIsClosedAfterTheIdleTimeoutWhileAnAnsweringOneStays() throws Exception {
        try (TestServer server = TestServer.start(dir,
                c -> c.withKeepAlive(Duration.ofMillis(300), Duration.ofMillis(1200)));
             RawSocket silent = new RawSocket(server.port());
             WsClient answering = WsClient.hello(server.chatUri(), "ada")) {
            silent.upgrade();
            // The raw socket never answers the server's pings; the JDK client answers them itself.
            long start = System.nanoTime();
            int code = -2;
            int pings = 0;
            while (code == -2) {
                RawSocket.Frame f = silent.readFrame();
                if (f.opcode() == RawSocket.PING) {
                    pings++;
                } else if (f.opcode() == RawSocket.CLOSE) {
                    code = f.closeCode();
                }
            }
            assertThat(pings).as("pings before giving up").isGreaterThanOrEqualTo(2);
            assertThat(code).isEqualTo(1001);
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));

            answering.send(Map.of("type", "ping"));
            assertThat(answering.expect("pong")).isNotNull();
            assertThat(answering.isClosed()).isFalse();
        }
    }

    @Test
    void silentTcpConnectionThatNeverSendsARequestIsClosed() throws Exception {
        try (TestServer server = TestServer.start(dir,
                c -> c.withKeepAlive(Duration.ofMillis(300), Duration.ofMillis(1200)));
             RawSocket silent = new RawSocket(server.port())) {
            long start = System.nanoTime();
            assertThat(silent.closedByServer()).isTrue();
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isBetween(Duration.ofMillis(1000), Duration.ofSeconds(5));
        }
    }

    @Test
    void healthzAnswersOk() throws Exception {
        try (TestServer server = TestServer.start(dir, TestServer.UNTHROTTLED)) {
            HttpResponse<String> r = HttpClient.newHttpClient().send(
                    HttpRequest.newBuilder(server.httpUri("/healthz")).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).isEqualTo(200);
            JsonNode body = WsClient.JSON.readTree(r.body());
            assertThat(body.get("status").asText()).isEqualTo("ok");
        }
    }

    @Test
    void rootServesTheBrowserClientWithAStrictContentSecurityPolicy() throws Exception {
        try (TestServer server = TestServer.start(dir, TestServer.UNTHROTTLED)) {
            HttpClient http = HttpClient.newHttpClient();
            HttpResponse<String> page = http.send(HttpRequest.newBuilder(server.httpUri("/")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(page.statusCode()).isEqualTo(200);
            assertThat(page.headers().firstValue("content-type")).hasValueSatisfying(v -> assertThat(v).startsWith("text/html"));
            assertThat(page.headers().firstValue("content-security-policy"))
                    .hasValueSatisfying(v -> assertThat(v).contains("script-src 'self'", "frame-ancestors 'none'"));
            assertThat(page.body()).contains("app.js");

            HttpResponse<String> script = http.send(HttpRequest.newBuilder(server.httpUri("/app.js")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(script.statusCode()).isEqualTo(200);
            assertThat(script.headers().firstValue("content-type")).hasValueSatisfying(v -> assertThat(v).startsWith("text/javascript"));

            HttpResponse<String> missing = http.send(HttpRequest.newBuilder(server.httpUri("/../pom.xml")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(missing.statusCode()).isEqualTo(404);
        }
    }

    @Test
    void onlyTheAllowedOriginsMayShowThePageInAFrame() throws Exception {
        try (TestServer server = TestServer.start(dir, c -> c.withAllowedOrigins(
                java.util.List.of("https://www.Example.com:443", "http://shop.example:8080", "not an origin")))) {
            HttpResponse<String> page = HttpClient.newHttpClient().send(
                    HttpRequest.newBuilder(server.httpUri("/")).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(page.headers().firstValue("content-security-policy")).hasValueSatisfying(v -> assertThat(v)
                    .endsWith("; frame-ancestors 'self' http://shop.example:8080 https://www.example.com"));
        }
    }

    /** Every message a client receives until the server's close has arrived, and the close itself. */
    private static List<JsonNode> untilClosed(WsClient client) {
        List<JsonNode> out = new java.util.ArrayList<>();
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (true) {
            JsonNode m = client.next(Duration.ofMillis(20));
            if (m != null) {
                out.add(m);
            } else if (client.isClosed()) {
                return out;
            } else if (System.nanoTime() > deadline) {
                throw new AssertionError("the server did not close the connection within 10 s; got " + out);
            }
        }
    }
}
