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
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The rooms list (docs/PROTOCOL.md, {@code rooms} and {@code GET /api/rooms}): the same list over
 * WebSocket and HTTP, most recently active first, with member counts, and its limit's errors. One
 * server for the class, so the rooms are those the tests made, in the order they wrote them.
 */
class RoomsListTest {

    @TempDir
    static Path dir;
    static TestServer server;

    @BeforeAll
    static void start() throws Exception {
        server = TestServer.start(dir, TestServer.UNTHROTTLED);
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    private static List<String> names(JsonNode list) {
        List<String> out = new ArrayList<>();
        list.get("rooms").forEach(r -> out.add(r.get("room").asText()));
        return out;
    }

    private static void postLater(ApiClient api, String room, String id) throws InterruptedException {
        // Each room's last message a millisecond after the one before, so that their order is the writes'.
        long now = System.currentTimeMillis();
        while (System.currentTimeMillis() <= now) {
            Thread.sleep(1);
        }
        HttpResponse<String> r = api.postAs("ada", room, id, "hello " + room);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    }

    @Test
    void bothTransportsListTheRoomsMostRecentlyActiveFirstWithTheirMembers() throws Exception {
        try (ApiClient api = new ApiClient(server.port());
             WsClient bob = WsClient.hello(server.chatUri(), "bob")) {
            postLater(api, "list-old", "1");
            postLater(api, "list-mid", "2");
            postLater(api, "list-mid", "3");
            postLater(api, "list-new", "4");
            bob.join("list-mid");
            bob.join("list-quiet");

            HttpResponse<String> r = api.get("/api/rooms");
            assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
            JsonNode http = ApiClient.json(r);
            assertThat(http.get("type").asText()).isEqualTo("rooms");
            assertThat(names(http)).containsSubsequence("list-new", "list-mid", "list-old", "list-quiet");
            JsonNode mid = http.get("rooms").get(names(http).indexOf("list-mid"));
            assertThat(mid.get("seq").asLong()).isEqualTo(2);
            assertThat(mid.get("members").asInt()).isEqualTo(1);
            assertThat(mid.get("lastTime").asLong()).isPositive();
            JsonNode quiet = http.get("rooms").get(names(http).indexOf("list-quiet"));
            assertThat(quiet.get("seq").asLong()).isZero();
            assertThat(quiet.get("members").asInt()).isEqualTo(1);
            assertThat(quiet.get("lastTime").isNull()).as("no message, no time: %s", quiet).isTrue();

            bob.send(Map.of("type", "rooms", "ref", "r1"));
            JsonNode ws = bob.expect("rooms");
            assertThat(ws.get("ref").asText()).isEqualTo("r1");
            assertThat(names(ws)).isEqualTo(names(http));

            bob.send(Map.of("type", "rooms", "limit", 2));
            assertThat(names(bob.expect("rooms"))).isEqualTo(names(http).subList(0, 2));
            assertThat(names(ApiClient.json(api.get("/api/rooms?limit=2")))).isEqualTo(names(http).subList(0, 2));
        }
    }

    @Test
    void aBadLimitIsRefusedOnBothTransportsAndTheListNeedsAHello() {
        try (ApiClient api = new ApiClient(server.port());
             WsClient early = WsClient.connect(server.chatUri())) {
            for (String limit : List.of("0", "501", "-1", "x", "1&limit=2")) {
                HttpResponse<String> r = api.get("/api/rooms?limit=" + limit);
                assertThat(r.statusCode()).as(limit).isEqualTo(400);
                assertThat(ApiClient.json(r).get("code").asText()).as(limit).isEqualTo("invalid_cursor");
            }
            assertThat(api.get("/api/rooms?limit=500").statusCode()).isEqualTo(200);
            HttpResponse<String> put = api.send(api.request("/api/rooms").PUT(
                    java.net.http.HttpRequest.BodyPublishers.ofString("{}")).build());
            assertThat(put.statusCode()).as("POST creates a room (RoomPolicyTest); other methods are refused")
                    .isEqualTo(405);

            early.send(Map.of("type", "rooms"));
            assertThat(early.expect("error").get("code").asText()).isEqualTo("hello_required");
            early.send(Map.of("type", "hello", "name", "cy"));
            early.expect("welcome");
            early.send(Map.of("type", "rooms", "limit", 501));
            JsonNode error = early.expect("error");
            assertThat(error.get("code").asText()).isEqualTo("invalid_cursor");
            assertThat(error.get("request").asText()).isEqualTo("rooms");
            early.send(Map.of("type", "rooms", "limit", "ten"));
            assertThat(early.expect("error").get("code").asText()).isEqualTo("bad_request");
        }
    }
}
