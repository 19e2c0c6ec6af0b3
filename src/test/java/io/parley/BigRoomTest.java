package io.parley;

import com.fasterxml.jackson.databind.JsonNode;
import io.parley.testing.ApiClient;
import io.parley.testing.TestServer;
import io.parley.testing.WsClient;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Presence in big rooms and the member listing (docs/PROTOCOL.md, "presence" and "members"), over
 * WebSocket and HTTP, with the names threshold set to 2 so that three members make a big room. Each
 * test has its own room and names.
 */
class BigRoomTest {

    @TempDir
    static Path dir;
    static TestServer server;

    @BeforeAll
    static void start() throws Exception {
        server = TestServer.start(dir.resolve("big"), config -> config.withPresenceNamesUpTo(2));
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    @Test
    void aRoomAboveTheThresholdGetsASummaryWithoutNames() {
        try (WsClient ada = WsClient.hello(server.chatUri(), "Ada");
             WsClient bob = WsClient.hello(server.chatUri(), "Bob");
             WsClient cy = WsClient.hello(server.chatUri(), "Cy")) {
            ada.join("summary");
            bob.join("summary");
            JsonNode named = ada.expect("presence", p -> p.path("members").asInt() == 2);
            assertThat(named.path("joined").toString()).isEqualTo("[\"Bob\"]");
            assertThat(named.has("summary")).isFalse();

            cy.join("summary");
            JsonNode count = ada.expect("presence", p -> p.path("members").asInt() == 3);
            assertThat(count.path("summary").asBoolean()).isTrue();
            assertThat(count.path("joined").size()).isZero();
            assertThat(count.path("left").size()).isZero();
        }
    }

    @Test
    void membersArePagedOverWebSocket() {
        try (WsClient ada = WsClient.hello(server.chatUri(), "Ann");
             WsClient bob = WsClient.hello(server.chatUri(), "Ben");
             WsClient cy = WsClient.hello(server.chatUri(), "Cat")) {
            ada.join("paged");
            bob.join("paged");
            cy.join("paged");
            ada.send(Map.of("type", "members", "room", "paged", "limit", 2, "ref", 1));
            JsonNode first = ada.expect("members");
            assertThat(first.path("members").asInt()).isEqualTo(3);
            assertThat(first.path("names").toString()).isEqualTo("[\"Ann\",\"Ben\"]");
            assertThat(first.path("ref").asInt()).isEqualTo(1);
            ada.send(Map.of("type", "members", "room", "paged", "limit", 2, "after", first.path("next").asLong()));
            JsonNode second = ada.expect("members");
            assertThat(second.path("names").toString()).isEqualTo("[\"Cat\"]");
            assertThat(second.has("next")).isFalse();

            ada.send(Map.of("type", "members", "room", "paged", "after", -1));
            assertThat(ada.expect("error").path("code").asText()).isEqualTo("invalid_cursor");
            ada.send(Map.of("type", "members", "room", "elsewhere"));
            assertThat(ada.expect("error").path("code").asText()).isEqualTo("not_member");
        }
    }

    @Test
    void membersArePagedOverHttp() {
        try (WsClient dee = WsClient.hello(server.chatUri(), "Dee");
             WsClient eve = WsClient.hello(server.chatUri(), "Eve");
             WsClient fay = WsClient.hello(server.chatUri(), "Fay");
             ApiClient api = new ApiClient(server.port())) {
            dee.join("listed");
            eve.join("listed");
            fay.join("listed");
            List<String> names = new ArrayList<>();
            String query = "?limit=2";
            for (int pages = 0; pages < 5; pages++) {
                HttpResponse<String> r = api.get("/api/rooms/listed/members" + query);
                assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
                JsonNode page = ApiClient.json(r);
                assertThat(page.path("type").asText()).isEqualTo("members");
                assertThat(page.path("members").asInt()).isEqualTo(3);
                page.path("names").forEach(n -> names.add(n.asText()));
                if (!page.has("next")) {
                    break;
                }
                query = "?limit=2&after=" + page.path("next").asLong();
            }
            assertThat(names).containsExactly("Dee", "Eve", "Fay");

            HttpResponse<String> empty = api.get("/api/rooms/nobody-here/members");
            assertThat(empty.statusCode()).isEqualTo(200);
            assertThat(ApiClient.json(empty).path("members").asInt()).isZero();
            HttpResponse<String> bad = api.get("/api/rooms/listed/members?after=-1");
            assertThat(bad.statusCode()).as(bad.body()).isEqualTo(400);
            assertThat(ApiClient.json(bad).path("code").asText()).isEqualTo("invalid_cursor");
            HttpResponse<String> tooMany = api.get("/api/rooms/listed/members?limit=5000");
            assertThat(ApiClient.json(tooMany).path("code").asText()).isEqualTo("invalid_cursor");
            HttpResponse<String> posted = api.send(api.request("/api/rooms/listed/members")
                    .POST(HttpRequest.BodyPublishers.ofString("{}")).build());
            assertThat(posted.statusCode()).isEqualTo(405);
        }
    }
}
