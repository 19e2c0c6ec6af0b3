package io.parley;

import com.fasterxml.jackson.databind.JsonNode;
import io.parley.config.ServerConfig.Access;
import io.parley.testing.ApiClient;
import io.parley.testing.TestServer;
import io.parley.testing.WsClient;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

import static io.parley.AccessTest.SECRET;
import static io.parley.AccessTest.validToken;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Idempotent sends (docs/PROTOCOL.md, "Recovery and idempotency"): a {@code send} whose id its user
 * already used in the room is answered with the original ack and stores and broadcasts nothing.
 * Every test has its own room; a bystander in it sees what the room broadcasts.
 */
class IdempotencyTest {

    @TempDir
    static Path dir;
    static TestServer server;

    ApiClient api;

    @BeforeAll
    static void start() throws Exception {
        // Rate limits have their own tests; resends here must not be turned away for speed.
        server = TestServer.start(dir, c -> TestServer.UNTHROTTLED.apply(c)
                .withAccess(Access.defaults().withTokenSecret(SECRET)));
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    @BeforeEach
    void openApi() {
        api = new ApiClient(server.port());
    }

    @AfterEach
    void closeApi() {
        api.close();
    }

    private static WsClient user(String sub, String name) {
        WsClient c = WsClient.connect(server.chatUri(), Map.of("Authorization", "Bearer " + validToken(sub, name)));
        c.send(Map.of("type", "hello"));
        c.expect("welcome");
        return c;
    }

    private static JsonNode ack(WsClient c, String id) {
        return c.expect("ack", m -> m.path("id").asText().equals(id));
    }

    /**
     * What {@code watcher} receives in the room up to and including the message with id {@code marker}:
     * a duplicate broadcast would come before a message sent after it.
     */
    private static List<JsonNode> messagesUntil(WsClient watcher, String marker) {
        List<JsonNode> seen = new ArrayList<>();
        JsonNode m;
        do {
            m = watcher.expect("message");
            seen.add(m);
        } while (!m.path("id").asText().equals(marker));
        return seen;
    }

    private static long count(List<JsonNode> messages, String id) {
        return messages.stream().filter(m -> m.path("id").asText().equals(id)).count();
    }

    /** Every stored message of the room, oldest first, read over HTTP. */
    private List<JsonNode> stored(String room) {
        HttpResponse<String> r = api.get("/api/rooms/" + room + "/messages?since=0&limit=500");
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        List<JsonNode> out = new ArrayList<>();
        ApiClient.json(r).path("messages").forEach(out::add);
        return out;
    }

    private static void assertSameAck(JsonNode again, JsonNode original) {
        assertThat(again.path("seq").asLong()).isEqualTo(original.path("seq").asLong());
        assertThat(again.path("time").asLong()).isEqualTo(original.path("time").asLong());
        assertThat(again.path("room").asText()).isEqualTo(original.path("room").asText());
        assertThat(again.path("id").asText()).isEqualTo(original.path("id").asText());
    }

    @Test
    void aResendOnTheSameConnectionGetsTheOriginalAckAndIsNeitherStoredNorBroadcastAgain() {
        try (WsClient ada = user("u-ada", "Ada"); WsClient bob = WsClient.hello(server.chatUri(), "bob")) {
            bob.join("same-connection");
            ada.join("same-connection");

            ada.say("same-connection", "m1", "first words");
            JsonNode original = ack(ada, "m1");
            ada.say("same-connection", "m1", "first words");
            JsonNode again = ack(ada, "m1");
            // A new text under a stored id is not a resend: it is refused out loud, never acked as the
            // original (which would drop the new text without a word).
            ada.say("same-connection", "m1", "edited words");
            JsonNode refused = ada.expect("error", m -> m.path("id").asText().equals("m1"));
            ada.say("same-connection", "m2", "after the resends");
            JsonNode next = ack(ada, "m2");

            assertSameAck(again, original);
            assertThat(refused.path("code").asText()).isEqualTo("id_reused");
            assertThat(next.path("seq").asLong()).isEqualTo(original.path("seq").asLong() + 1);
            List<JsonNode> bobSaw = messagesUntil(bob, "m2");
            assertThat(count(bobSaw, "m1")).isEqualTo(1);
            List<JsonNode> history = stored("same-connection");
            assertThat(history).extracting(m -> m.path("id").asText()).containsExactly("m1", "m2");
            assertThat(history.getFirst().path("text").asText()).isEqualTo("first words");
        }
    }

    @Test
    void aResendAfterReconnectingAsTheSameUserGetsTheOriginalAck() {
        JsonNode original;
        try (WsClient bob = WsClient.hello(server.chatUri(), "bob")) {
            bob.join("reconnect");
            try (WsClient ada = user("u-ada", "Ada")) {
                ada.join("reconnect");
                ada.say("reconnect", "r1", "sent before the connection dropped");
                original = ack(ada, "r1");
            }
            // Another connection of the same user, with a fresh token and another hello name.
            try (WsClient ada = WsClient.connect(server.chatUri(),
                    Map.of("Authorization", "Bearer " + validToken("u-ada", "Ada L.")))) {
                ada.send(Map.of("type", "hello", "name", "whoever"));
                ada.expect("welcome");
                ada.join("reconnect", original.path("seq").asLong());
                ada.say("reconnect", "r1", "sent before the connection dropped");
                assertSameAck(ack(ada, "r1"), original);
                ada.say("reconnect", "r2", "after the resend");
                ack(ada, "r2");
            }

            assertThat(count(messagesUntil(bob, "r2"), "r1")).isEqualTo(1);
            assertThat(stored("reconnect")).extracting(m -> m.path("id").asText()).containsExactly("r1", "r2");
        }
    }

    @Test
    void aResendOverTheHttpApiGetsTheOriginalAckWhicheverTransportSentFirst() {
        String token = validToken("u-carol", "Carol");
        try (WsClient bob = WsClient.hello(server.chatUri(), "bob")) {
            bob.join("over-http");

            HttpResponse<String> first = api.post("over-http", ApiClient.body("h1", "posted"),
                    "Authorization", "Bearer " + token);
            HttpResponse<String> second = api.post("over-http", ApiClient.body("h1", "posted"),
                    "Authorization", "Bearer " + token);
            assertThat(first.statusCode()).as(first.body()).isEqualTo(200);
            assertThat(second.statusCode()).as(second.body()).isEqualTo(200);
            assertSameAck(ApiClient.json(second), ApiClient.json(first));
            HttpResponse<String> reused = api.post("over-http", ApiClient.body("h1", "another text"),
                    "Authorization", "Bearer " + token);
            assertThat(reused.statusCode()).as(reused.body()).isEqualTo(409);
            assertThat(ApiClient.json(reused).path("code").asText()).isEqualTo("id_reused");

            // Sent over WebSocket first, resent over HTTP by the same user.
            try (WsClient carol = user("u-carol", "Carol")) {
                carol.join("over-http");
                carol.say("over-http", "w1", "from the socket");
                JsonNode overSocket = ack(carol, "w1");
                HttpResponse<String> resent = api.post("over-http", ApiClient.body("w1", "from the socket"),
                        "Authorization", "Bearer " + token);
                assertThat(resent.statusCode()).as(resent.body()).isEqualTo(200);
                assertSameAck(ApiClient.json(resent), overSocket);
                carol.say("over-http", "w2", "marker");
                ack(carol, "w2");
            }

            List<JsonNode> bobSaw = messagesUntil(bob, "w2");
            assertThat(count(bobSaw, "h1")).isEqualTo(1);
            assertThat(count(bobSaw, "w1")).isEqualTo(1);
            assertThat(stored("over-http")).extracting(m -> m.path("id").asText()).containsExactly("h1", "w1", "w2");
        }
    }

    @Test
    void theSameIdFromAnotherUserOrInAnotherRoomIsAnotherMessage() {
        // The user's id is "grace", the guest's "guest:grace"; they show different names, since a guest
        // may not take (or look like) the name of a signed-in user (other tests here sign in as "Ada").
        try (WsClient grace = user("grace", "Grace Hopper");
             WsClient guestGrace = WsClient.hello(server.chatUri(), "grace");
             WsClient bob = WsClient.hello(server.chatUri(), "bob")) {
            grace.join("shared-ids");
            guestGrace.join("shared-ids");
            bob.join("shared-ids");
            grace.join("other-room");

            grace.say("shared-ids", "1", "from the user grace");
            JsonNode fromUser = ack(grace, "1");
            // The guest named grace is guest:grace, not the user grace.
            guestGrace.say("shared-ids", "1", "from the guest grace");
            JsonNode fromGuest = ack(guestGrace, "1");
            bob.say("shared-ids", "1", "from bob");
            JsonNode fromBob = ack(bob, "1");
            grace.say("other-room", "1", "same id, other room");
            JsonNode otherRoom = ack(grace, "1");

            assertThat(List.of(fromUser, fromGuest, fromBob)).extracting(a -> a.path("seq").asLong())
                    .doesNotHaveDuplicates();
            assertThat(otherRoom.path("room").asText()).isEqualTo("other-room");
            List<JsonNode> history = stored("shared-ids");
            assertThat(history).extracting(m -> m.path("user").asText()).containsExactly("grace", "guest:grace", "guest:bob");
            assertThat(history).extracting(m -> m.path("text").asText())
                    .containsExactly("from the user grace", "from the guest grace", "from bob");
            assertThat(stored("other-room")).hasSize(1);
        }
    }

    @Test
    void identicalSendsBackToBackAreStoredOnce() {
        try (WsClient ada = user("u-ada", "Ada"); WsClient bob = WsClient.hello(server.chatUri(), "bob")) {
            bob.join("back-to-back");
            ada.join("back-to-back");
            String send = WsClient.JSON.valueToTree(Map.of("type", "send", "room", "back-to-back",
                    "id", "dup", "text", "said once, sent eight times")).toString();

            // One after another without waiting: they reach the engine in one batch or a few.
            for (int i = 0; i < 8; i++) {
                ada.sendRaw(send);
            }
            List<JsonNode> acks = ada.take(8, m -> m.path("type").asText().equals("ack")
                    || m.path("type").asText().equals("error"));
            ada.say("back-to-back", "after", "marker");
            ack(ada, "after");

            assertThat(acks).allSatisfy(a -> assertThat(a.path("type").asText()).as(a.toString()).isEqualTo("ack"));
            assertThat(acks).extracting(a -> a.path("seq").asLong()).containsOnly(acks.getFirst().path("seq").asLong());
            assertThat(acks).extracting(a -> a.path("time").asLong()).containsOnly(acks.getFirst().path("time").asLong());
            assertThat(count(messagesUntil(bob, "after"), "dup")).isEqualTo(1);
            assertThat(stored("back-to-back")).extracting(m -> m.path("id").asText()).containsExactly("dup", "after");
        }
    }

    @Test
    void identicalPostsAtTheSameTimeAreStoredOnce() {
        String token = validToken("u-dave", "Dave");
        var request = api.request("/api/rooms/concurrent-posts/messages", "Authorization", "Bearer " + token,
                        "Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(ApiClient.body("p", "once"))).build();

        // Several connections at once, so that the posts race each other into the engine.
        var pending = new ArrayList<CompletableFuture<HttpResponse<String>>>();
        for (int i = 0; i < 6; i++) {
            pending.add(api.sendAsync(request));
        }
        List<JsonNode> acks = pending.stream().map(CompletableFuture::join)
                .peek(r -> assertThat(r.statusCode()).as(r.body()).isEqualTo(200))
                .map(ApiClient::json).toList();

        assertThat(acks).extracting(a -> a.path("seq").asLong()).containsOnly(acks.getFirst().path("seq").asLong());
        assertThat(stored("concurrent-posts")).hasSize(1);
    }
}
