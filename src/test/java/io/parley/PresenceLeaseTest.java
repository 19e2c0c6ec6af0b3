package io.parley;

import com.fasterxml.jackson.databind.JsonNode;
import io.parley.testing.ApiClient;
import io.parley.testing.TestServer;
import io.parley.testing.WsClient;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Presence as a watcher in the room sees it (docs/PROTOCOL.md, {@code presence}): a client that
 * reconnects, or switches from WebSocket to long polling and back, within the presence grace is no
 * news to the room; one that really goes is announced {@code left} once the grace has passed. Each test
 * has its own room and names.
 */
class PresenceLeaseTest {

    /** Short enough to wait out in a test, long enough for a reconnect on a slow machine. */
    private static final Duration GRACE = Duration.ofMillis(1500);

    @TempDir
    static Path dir;
    static TestServer server;

    @BeforeAll
    static void start() throws Exception {
        server = TestServer.start(dir, c -> TestServer.UNTHROTTLED.apply(c).withPresenceGrace(GRACE));
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    private static boolean presenceOf(JsonNode m, String name) {
        return m.path("type").asText().equals("presence")
                && (m.path("joined").toString().contains(name) || m.path("left").toString().contains(name));
    }

    private static final Pattern OPEN_WEBSOCKETS =
            Pattern.compile("(?m)^parley_connections\\{transport=\"websocket\"[^}]*} ([0-9.]+)$");

    /**
     * Waits until the server has seen the connections close that the client dropped: a reconnect that
     * overtakes the news of its own close is a second connection of the user, not a reconnect.
     */
    private static void awaitOpenWebSockets(int n) throws InterruptedException {
        try (ApiClient api = new ApiClient(server.port())) {
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            String metrics = "";
            while (System.nanoTime() < deadline) {
                metrics = api.get("/metrics").body();
                Matcher m = OPEN_WEBSOCKETS.matcher(metrics);
                if (m.find() && Double.parseDouble(m.group(1)) == n) {
                    return;
                }
                Thread.sleep(10);
            }
            throw new AssertionError("never " + n + " open WebSocket connections: " + metrics);
        }
    }

    private static boolean leftBy(JsonNode m, String name) {
        return m.path("type").asText().equals("presence") && m.path("left").toString().contains(name);
    }

    @Test
    void aWebSocketClientReconnectingIsNoNewsAndLeavesOnceTheGracePassesAfterItReallyGoes() throws Exception {
        try (WsClient watcher = WsClient.hello(server.chatUri(), "watcher1")) {
            watcher.join("reconnects");
            WsClient ada = WsClient.hello(server.chatUri(), "ada");
            ada.join("reconnects");
            watcher.expect("presence", m -> m.path("joined").toString().contains("ada"));

            // A dropped connection (no close handshake), then a clean close: both reconnect at once.
            ada.abort();
            awaitOpenWebSockets(1);
            ada = WsClient.hello(server.chatUri(), "ada");
            JsonNode joined = ada.join("reconnects");
            assertThat(joined.get("members").asInt()).as("the count the reconnect sees").isEqualTo(2);
            ada.closeCleanly(Duration.ofSeconds(2));
            awaitOpenWebSockets(1);
            ada = WsClient.hello(server.chatUri(), "ada");
            ada.join("reconnects");

            ada.close();
            long gone = System.nanoTime();
            List<JsonNode> seen = watcher.everythingUntil(m -> leftBy(m, "ada"));
            long tookNanos = System.nanoTime() - gone;
            assertThat(seen.stream().filter(m -> presenceOf(m, "ada")).toList())
                    .as("only the left, after the last close: %s", seen).hasSize(1);
            assertThat(seen.getLast().get("members").asInt()).isEqualTo(1);
            assertThat(tookNanos).as("left after the grace").isGreaterThanOrEqualTo(GRACE.toNanos());
        }
    }

    @Test
    void aClientSwitchingToLongPollingAndBackIsNoNewsToTheRoom() {
        try (WsClient watcher = WsClient.hello(server.chatUri(), "watcher2");
             ApiClient api = new ApiClient(server.port())) {
            watcher.join("switches");
            WsClient bea = WsClient.hello(server.chatUri(), "bea");
            long seq = bea.join("switches").get("seq").asLong();
            watcher.expect("presence", m -> m.path("joined").toString().contains("bea"));

            // WebSocket refused (a proxy), the page falls back to long polling as the same guest...
            bea.abort();
            String messages = "/api/rooms/switches/messages?since=" + seq;
            for (int i = 0; i < 3; i++) {
                HttpResponse<String> poll = api.get(messages + "&wait=1", "X-Parley-Name", "bea");
                assertThat(poll.statusCode()).as(poll.body()).isEqualTo(200);
            }
            JsonNode members = ApiClient.json(api.get("/api/rooms/switches/members"));
            assertThat(members.get("names")).extracting(JsonNode::asText).containsExactly("watcher2", "bea");
            // ... and back to WebSocket.
            bea = WsClient.hello(server.chatUri(), "bea");
            assertThat(bea.join("switches").get("members").asInt()).isEqualTo(2);

            bea.close();
            List<JsonNode> seen = watcher.everythingUntil(m -> leftBy(m, "bea"));
            assertThat(seen.stream().filter(m -> presenceOf(m, "bea")).toList())
                    .as("only the left, after the last close: %s", seen).hasSize(1);
        }
    }

    @Test
    void aNamedLongPollerIsAMemberAndAnAnonymousOneIsNot() {
        try (WsClient watcher = WsClient.hello(server.chatUri(), "watcher3");
             ApiClient api = new ApiClient(server.port())) {
            watcher.join("polled");
            assertThat(api.get("/api/rooms/polled/messages?since=0").statusCode()).isEqualTo(200);
            assertThat(api.get("/api/rooms/polled/messages?since=0", "X-Parley-Name", "cleo").statusCode())
                    .isEqualTo(200);
            JsonNode joined = watcher.expect("presence", m -> m.path("joined").toString().contains("cleo"));
            assertThat(joined.get("members").asInt()).as("the anonymous poll is nobody").isEqualTo(2);
            JsonNode left = watcher.expect("presence", m -> leftBy(m, "cleo"));
            assertThat(left.get("members").asInt()).isEqualTo(1);
        }
    }
}
