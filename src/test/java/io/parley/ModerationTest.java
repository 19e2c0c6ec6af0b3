package io.parley;

import com.fasterxml.jackson.databind.JsonNode;
import io.parley.chat.Sanctions;
import io.parley.config.ServerConfig;
import io.parley.config.ServerConfig.Access;
import io.parley.testing.ApiClient;
import io.parley.testing.TestServer;
import io.parley.testing.WsClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Moderation on one node, over WebSocket and over HTTP as a bot with a token: deleting and clearing
 * messages (what members see, what every later read returns: the tombstone, never the text), bans and
 * timeouts (removed at once, refused on every transport); who may; and that it stays so across a
 * restart. The same over two nodes is {@link ModerationOnSeveralNodesTest}.
 */
class ModerationTest {

    static final String ADMIN = AccessTest.validToken("u-admin", "Root", "admin");
    static final String USER = AccessTest.validToken("u-plain", "Plain", "moderator-of-nothing");

    @TempDir
    Path dir;
    private final List<AutoCloseable> open = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (AutoCloseable c : open.reversed()) {
            c.close();
        }
    }

    static UnaryOperator<ServerConfig> withTokens() {
        return c -> c.withAccess(Access.defaults().withTokenSecret(AccessTest.SECRET));
    }

    private <T extends AutoCloseable> T open(T c) {
        open.add(c);
        return c;
    }

    static WsClient withToken(TestServer server, String token) {
        WsClient ws = WsClient.connect(server.chatUri(), Map.of("Authorization", "Bearer " + token));
        ws.send(Map.of("type", "hello"));
        ws.expect("welcome");
        return ws;
    }

    static HttpResponse<String> httpDelete(ApiClient api, String room, String seq, String... headers) {
        return api.send(api.request("/api/rooms/" + room + "/messages/" + seq, headers).DELETE().build());
    }

    static HttpResponse<String> httpClear(ApiClient api, String room, String body, String... headers) {
        return api.send(api.request("/api/rooms/" + room + "/clear", headers).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build());
    }

    /** The room's messages over HTTP from the start, as a poll without waiting. */
    static JsonNode polled(ApiClient api, String room) {
        HttpResponse<String> r = api.get("/api/rooms/" + room + "/messages?since=0");
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return ApiClient.json(r).path("messages");
    }

    @Test
    void aModeratorDeletesOverWebSocketAndEveryReadAfterGetsTheTombstone() throws Exception {
        TestServer server = open(TestServer.start(dir, withTokens()));
        WsClient ann = open(WsClient.hello(server.chatUri(), "ann"));
        ann.join("lobby");
        ann.say("lobby", "a1", "keep this");
        ann.say("lobby", "a2", "rude words");
        ann.expect("ack", m -> m.path("id").asText().equals("a2"));

        WsClient mod = open(withToken(server, ADMIN));
        mod.send(Map.of("type", "delete", "room", "lobby", "seq", 2, "ref", "d1"));
        JsonNode reply = mod.expect("deleted", m -> m.path("ref").asText().equals("d1"));
        assertThat(reply.path("seq").asLong()).isEqualTo(2);
        assertThat(reply.path("by").asText()).isEqualTo("u-admin");

        JsonNode event = ann.expect("deleted");
        assertThat(event.path("room").asText()).isEqualTo("lobby");
        assertThat(event.path("seq").asLong()).isEqualTo(2);
        assertThat(event.path("by").asText()).isEqualTo("u-admin");
        assertThat(event.path("at").asLong()).isEqualTo(reply.path("at").asLong());
        assertThat(event.has("ref")).isFalse();

        // A join, a recovery with since, a history page, a poll and an HTTP read: never the text.
        WsClient bob = open(WsClient.hello(server.chatUri(), "bob"));
        assertTombstoned(bob.join("lobby").path("history").get(1));
        WsClient carl = open(WsClient.hello(server.chatUri(), "carl"));
        assertTombstoned(carl.join("lobby", 1).path("history").get(0));
        carl.send(Map.of("type", "history", "room", "lobby", "before", 3));
        assertTombstoned(carl.expect("history").path("messages").get(1));
        try (ApiClient api = new ApiClient(server.port())) {
            assertTombstoned(polled(api, "lobby").get(1));
            assertTombstoned(ApiClient.json(api.get("/api/rooms/lobby/messages")).path("messages").get(1));
            assertThat(polled(api, "lobby").get(0).path("text").asText()).isEqualTo("keep this");
        }

        // Deleting it again: nothing is left to delete, and members hear nothing more.
        mod.send(Map.of("type", "delete", "room", "lobby", "seq", 2, "ref", "d2"));
        assertThat(mod.expect("error").path("code").asText()).isEqualTo("no_such_message");
    }

    @Test
    void aBotDeletesAndClearsOverHttpWithATokenAndMembersHearIt() throws Exception {
        TestServer server = open(TestServer.start(dir, withTokens()));
        WsClient ann = open(WsClient.hello(server.chatUri(), "ann"));
        ann.join("lobby");
        try (ApiClient api = new ApiClient(server.port())) {
            for (int i = 1; i <= 4; i++) {
                assertThat(api.postAs("bob", "lobby", "b" + i, "spam " + i).statusCode()).isEqualTo(200);
            }
            String bearer = "Bearer " + ADMIN;
            HttpResponse<String> deleted = httpDelete(api, "lobby", "3", "Authorization", bearer);
            assertThat(deleted.statusCode()).as(deleted.body()).isEqualTo(200);
            assertThat(ApiClient.json(deleted).path("type").asText()).isEqualTo("deleted");
            assertThat(ann.expect("deleted").path("seq").asLong()).isEqualTo(3);

            HttpResponse<String> again = httpDelete(api, "lobby", "3", "Authorization", bearer);
            assertThat(again.statusCode()).isEqualTo(404);
            assertThat(ApiClient.json(again).path("code").asText()).isEqualTo("no_such_message");
            assertThat(httpDelete(api, "lobby", "99", "Authorization", bearer).statusCode()).isEqualTo(404);
            HttpResponse<String> badSeq = httpDelete(api, "lobby", "x1", "Authorization", bearer);
            assertThat(badSeq.statusCode()).isEqualTo(400);
            assertThat(httpDelete(api, "lobby", "0", "Authorization", bearer).statusCode()).isEqualTo(400);

            HttpResponse<String> cleared = httpClear(api, "lobby", "{\"upTo\": 2}", "Authorization", bearer);
            assertThat(cleared.statusCode()).as(cleared.body()).isEqualTo(200);
            JsonNode answer = ApiClient.json(cleared);
            assertThat(answer.path("type").asText()).isEqualTo("cleared");
            assertThat(answer.path("upTo").asLong()).isEqualTo(2);
            assertThat(answer.path("count").asInt()).isEqualTo(2);
            JsonNode event = ann.expect("cleared");
            assertThat(event.path("upTo").asLong()).isEqualTo(2);
            assertThat(event.has("count")).isFalse();

            JsonNode messages = polled(api, "lobby");
            for (int i = 0; i < 3; i++) {
                assertTombstoned(messages.get(i));
            }
            assertThat(messages.get(3).path("text").asText()).isEqualTo("spam 4");
            assertThat(httpClear(api, "lobby", "{\"upTo\": \"2\"}", "Authorization", bearer).statusCode())
                    .isEqualTo(400);
        }
    }

    @Test
    void onlyModeratorsMayDeleteOnEitherTransport() throws Exception {
        TestServer server = open(TestServer.start(dir, withTokens()));
        WsClient ann = open(WsClient.hello(server.chatUri(), "ann"));
        ann.join("lobby");
        ann.say("lobby", "a1", "mine");
        ann.expect("ack");

        ann.send(Map.of("type", "delete", "room", "lobby", "seq", 1));
        assertThat(ann.expect("error").path("code").asText()).isEqualTo("forbidden");
        WsClient plain = open(withToken(server, USER));
        plain.send(Map.of("type", "clear", "room", "lobby", "upTo", 1));
        JsonNode refused = plain.expect("error");
        assertThat(refused.path("code").asText()).isEqualTo("forbidden");
        assertThat(refused.path("request").asText()).isEqualTo("clear");
        try (ApiClient api = new ApiClient(server.port())) {
            assertThat(httpDelete(api, "lobby", "1").statusCode()).isEqualTo(403);
            assertThat(httpDelete(api, "lobby", "1", "X-Parley-Name", "ann").statusCode()).isEqualTo(403);
            HttpResponse<String> notAdmin = httpDelete(api, "lobby", "1", "Authorization", "Bearer " + USER);
            assertThat(notAdmin.statusCode()).isEqualTo(403);
            assertThat(ApiClient.json(notAdmin).path("code").asText()).isEqualTo("forbidden");
            HttpResponse<String> notAdminClear = httpClear(api, "lobby", "{\"upTo\": 1}", "Authorization",
                    "Bearer " + USER);
            assertThat(notAdminClear.statusCode()).isEqualTo(403);
            assertThat(ApiClient.json(notAdminClear).path("request").asText()).isEqualTo("clear");
            assertThat(polled(api, "lobby").get(0).path("text").asText()).isEqualTo("mine");
        }
    }

    @Test
    void aTombstoneStaysATombstoneAfterARestart() throws Exception {
        try (TestServer server = TestServer.start(dir, withTokens());
             WsClient ann = WsClient.hello(server.chatUri(), "ann");
             ApiClient api = new ApiClient(server.port())) {
            ann.join("lobby");
            ann.say("lobby", "a1", "gone soon");
            ann.say("lobby", "a2", "stays");
            ann.expect("ack", m -> m.path("id").asText().equals("a2"));
            assertThat(httpDelete(api, "lobby", "1", "Authorization", "Bearer " + ADMIN).statusCode()).isEqualTo(200);
        }
        TestServer again = open(TestServer.start(dir, withTokens()));
        WsClient bob = open(WsClient.hello(again.chatUri(), "bob"));
        JsonNode history = bob.join("lobby").path("history");
        assertTombstoned(history.get(0));
        assertThat(history.get(1).path("text").asText()).isEqualTo("stays");
        // A resend of the deleted message after the restart is answered with its seq, not stored again.
        WsClient ann = open(WsClient.hello(again.chatUri(), "ann"));
        ann.join("lobby");
        ann.say("lobby", "a1", "gone soon");
        assertThat(ann.expect("ack").path("seq").asLong()).isEqualTo(1);
    }

    static HttpResponse<String> httpPost(ApiClient api, String path, String body, String... headers) {
        return api.send(api.request(path, headers).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build());
    }

    static String errorCode(WsClient ws) {
        return ws.expect("error").path("code").asText();
    }

    @Test
    void aBannedMemberIsRemovedAtOnceAndCannotRejoinOrSendUntilUnbanned() throws Exception {
        TestServer server = open(TestServer.start(dir, withTokens()));
        WsClient ann = open(WsClient.hello(server.chatUri(), "ann"));
        ann.join("lobby");
        WsClient bob = open(WsClient.hello(server.chatUri(), "bob"));
        bob.join("lobby");

        WsClient mod = open(withToken(server, ADMIN));
        mod.send(Map.of("type", "ban", "room", "lobby", "user", "guest:ann", "ref", 1));
        JsonNode done = mod.expect("moderated");
        assertThat(done.path("action").asText()).isEqualTo("ban");
        assertThat(done.path("user").asText()).isEqualTo("guest:ann");
        JsonNode removed = ann.expect("removed");
        assertThat(removed.path("room").asText()).isEqualTo("lobby");
        assertThat(removed.path("reason").asText()).isEqualTo("banned");
        bob.expect("presence", p -> p.path("left").toString().contains("ann"));

        ann.send(Map.of("type", "join", "room", "lobby"));
        assertThat(errorCode(ann)).isEqualTo("banned");
        ann.say("lobby", "a1", "let me in");
        assertThat(errorCode(ann)).isEqualTo("not_member");
        try (ApiClient api = new ApiClient(server.port())) {
            HttpResponse<String> posted = api.postAs("ann", "lobby", "a2", "over http then");
            assertThat(posted.statusCode()).isEqualTo(403);
            assertThat(ApiClient.json(posted).path("code").asText()).isEqualTo("banned");
            // Other rooms are not touched.
            assertThat(api.postAs("ann", "elsewhere", "a3", "fine here").statusCode()).isEqualTo(200);

            HttpResponse<String> unbanned = api.send(api.request("/api/rooms/lobby/bans/guest:ann",
                    "Authorization", "Bearer " + ADMIN).DELETE().build());
            assertThat(unbanned.statusCode()).as(unbanned.body()).isEqualTo(200);
            assertThat(ApiClient.json(unbanned).path("changed").asBoolean()).isTrue();
        }
        assertThat(ann.join("lobby").path("room").asText()).isEqualTo("lobby");
    }

    @Test
    void aTimedOutUserReadsButCannotSendUntilTheTimeoutEnds() throws Exception {
        TestServer server = open(TestServer.start(dir, withTokens()));
        WsClient ann = open(WsClient.hello(server.chatUri(), "ann"));
        ann.join("lobby");
        try (ApiClient api = new ApiClient(server.port())) {
            long before = System.currentTimeMillis();
            HttpResponse<String> timedOut = httpPost(api, "/api/rooms/lobby/timeouts",
                    "{\"user\": \"guest:ann\", \"seconds\": 60}", "Authorization", "Bearer " + ADMIN);
            assertThat(timedOut.statusCode()).as(timedOut.body()).isEqualTo(200);
            long until = ApiClient.json(timedOut).path("until").asLong();
            assertThat(until).isBetween(before + 59_000, System.currentTimeMillis() + 60_000);

            ann.say("lobby", "a1", "hello?");
            JsonNode refused = ann.expect("error");
            assertThat(refused.path("code").asText()).isEqualTo("timed_out");
            assertThat(refused.path("until").asLong()).isEqualTo(until);
            assertThat(refused.path("retryAfter").asLong()).isPositive();
            HttpResponse<String> posted = api.postAs("ann", "lobby", "a2", "and over http?");
            assertThat(posted.statusCode()).isEqualTo(403);
            assertThat(ApiClient.json(posted).path("until").asLong()).isEqualTo(until);
            // She still reads the room.
            assertThat(api.postAs("bob", "lobby", "b1", "you can read this").statusCode()).isEqualTo(200);
            assertThat(ann.expect("message").path("text").asText()).isEqualTo("you can read this");

            assertThat(httpPost(api, "/api/rooms/lobby/timeouts", "{\"user\": \"guest:ann\", \"seconds\": 0}",
                    "Authorization", "Bearer " + ADMIN).statusCode()).isEqualTo(200);
            assertThat(httpPost(api, "/api/rooms/lobby/timeouts", "{\"user\": \"guest:ann\", \"seconds\": -1}",
                    "Authorization", "Bearer " + ADMIN).statusCode()).isEqualTo(400);
        }
        ann.say("lobby", "a3", "free again");
        assertThat(ann.expect("ack").path("id").asText()).isEqualTo("a3");
    }

    @Test
    void aTimedOutUserIsToldAtOnceOnEachOfItsConnectionsInTheRoomAndOnEveryJoinUntilLifted() throws Exception {
        TestServer server = open(TestServer.start(dir, withTokens()));
        String tim = AccessTest.validToken("u-tim", "Tim");
        WsClient first = open(withToken(server, tim));
        first.join("lobby");
        WsClient second = open(withToken(server, tim));
        second.join("lobby");
        WsClient elsewhere = open(withToken(server, tim));
        elsewhere.join("other");
        assertThat(first.join("quiet").has("timedOutUntil")).isFalse();

        WsClient mod = open(withToken(server, ADMIN));
        mod.send(Map.of("type", "timeout", "room", "lobby", "user", "u-tim", "seconds", 60, "ref", "t"));
        long until = mod.expect("moderated").path("until").asLong();
        for (WsClient ws : List.of(first, second)) {
            // Unasked: no ref, and before any send of theirs.
            JsonNode told = ws.expect("moderated");
            assertThat(told.path("action").asText()).isEqualTo("timeout");
            assertThat(told.path("room").asText()).isEqualTo("lobby");
            assertThat(told.path("user").asText()).isEqualTo("u-tim");
            assertThat(told.path("until").asLong()).isEqualTo(until);
            assertThat(told.has("ref")).isFalse();
        }
        // A page loaded again learns it from its join.
        WsClient reloaded = open(withToken(server, tim));
        assertThat(reloaded.join("lobby").path("timedOutUntil").asLong()).isEqualTo(until);
        assertThat(reloaded.join("other").has("timedOutUntil")).isFalse();

        mod.send(Map.of("type", "timeout", "room", "lobby", "user", "u-tim", "seconds", 0));
        for (WsClient ws : List.of(first, second, reloaded)) {
            JsonNode lifted = ws.expect("moderated");
            assertThat(lifted.path("user").asText()).isEqualTo("u-tim");
            assertThat(lifted.path("until").asLong()).isZero();
        }
        WsClient afterLift = open(withToken(server, tim));
        assertThat(afterLift.join("lobby").has("timedOutUntil")).isFalse();
        // Told only where it is in the room: not in another room, and only its own user.
        assertThat(elsewhere.drain(Duration.ofMillis(300))).noneMatch(m -> m.path("type").asText().equals("moderated"));
        assertThat(first.drain(Duration.ofMillis(100))).noneMatch(m -> m.path("type").asText().equals("moderated"));
    }

    @Test
    void onlyModeratorsMayBanOrTimeOut() throws Exception {
        TestServer server = open(TestServer.start(dir, withTokens()));
        WsClient ann = open(WsClient.hello(server.chatUri(), "ann"));
        ann.send(Map.of("type", "ban", "room", "lobby", "user", "guest:bob"));
        assertThat(errorCode(ann)).isEqualTo("forbidden");
        WsClient plain = open(withToken(server, USER));
        plain.send(Map.of("type", "timeout", "room", "lobby", "user", "guest:bob", "seconds", 60));
        assertThat(errorCode(plain)).isEqualTo("forbidden");
        plain.send(Map.of("type", "unban", "room", "lobby", "user", "guest:bob"));
        assertThat(errorCode(plain)).isEqualTo("forbidden");
        try (ApiClient api = new ApiClient(server.port())) {
            assertThat(httpPost(api, "/api/rooms/lobby/bans", "{\"user\": \"guest:bob\"}", "Authorization",
                    "Bearer " + USER).statusCode()).isEqualTo(403);
            assertThat(httpPost(api, "/api/rooms/lobby/timeouts", "{\"user\": \"guest:bob\", \"seconds\": 9}",
                    "X-Parley-Name", "ann").statusCode()).isEqualTo(403);
            assertThat(api.send(api.request("/api/rooms/lobby/bans/guest:bob").DELETE().build()).statusCode())
                    .isEqualTo(403);
            assertThat(api.postAs("bob", "lobby", "b1", "still here").statusCode()).isEqualTo(200);
        }
    }

    @Test
    void aBanStaysAfterARestart() throws Exception {
        try (TestServer server = TestServer.start(dir, withTokens());
             ApiClient api = new ApiClient(server.port())) {
            assertThat(httpPost(api, "/api/rooms/lobby/bans", "{\"user\": \"guest:ann\"}", "Authorization",
                    "Bearer " + ADMIN).statusCode()).isEqualTo(200);
        }
        TestServer again = open(TestServer.start(dir, withTokens()));
        WsClient ann = open(WsClient.hello(again.chatUri(), "ann"));
        ann.send(Map.of("type", "join", "room", "lobby"));
        assertThat(errorCode(ann)).isEqualTo("banned");
    }

    @Test
    void slowModeLetsEachUserSendOnceEveryNSecondsModeratorsExceptedAndSurvivesARestart() throws Exception {
        try (TestServer server = TestServer.start(dir, withTokens());
             WsClient ann = WsClient.hello(server.chatUri(), "ann");
             WsClient mod = withToken(server, ADMIN);
             ApiClient api = new ApiClient(server.port())) {
            ann.join("lobby");
            mod.join("lobby");
            WsClient plain = open(withToken(server, USER));
            plain.send(Map.of("type", "slow", "room", "lobby", "seconds", 30));
            assertThat(errorCode(plain)).isEqualTo("forbidden");
            mod.send(Map.of("type", "slow", "room", "lobby", "seconds", 30, "ref", "s"));
            assertThat(mod.expect("moderated").path("seconds").asInt()).isEqualTo(30);

            ann.say("lobby", "a1", "first");
            ann.expect("ack");
            ann.say("lobby", "a2", "too soon");
            JsonNode refused = ann.expect("error");
            assertThat(refused.path("code").asText()).isEqualTo("slow_mode");
            assertThat(refused.path("retryAfter").asLong()).isBetween(1L, 30_000L);
            HttpResponse<String> overHttp = api.postAs("ann", "lobby", "a3", "over http");
            assertThat(overHttp.statusCode()).isEqualTo(429);
            assertThat(ApiClient.json(overHttp).path("code").asText()).isEqualTo("slow_mode");
            assertThat(overHttp.headers().firstValue("Retry-After")).isPresent();
            // Another user has a turn of their own; a moderator is not held back.
            assertThat(api.postAs("bob", "lobby", "b1", "mine").statusCode()).isEqualTo(200);
            mod.say("lobby", "m1", "one");
            mod.say("lobby", "m2", "two");
            mod.expect("ack", m -> m.path("id").asText().equals("m2"));
            // Other rooms are not slow.
            assertThat(api.postAs("ann", "elsewhere", "e1", "fine").statusCode()).isEqualTo(200);
        }
        TestServer again = open(TestServer.start(dir, withTokens()));
        try (ApiClient api = new ApiClient(again.port())) {
            assertThat(api.postAs("cid", "lobby", "c1", "first").statusCode()).isEqualTo(200);
            assertThat(api.postAs("cid", "lobby", "c2", "again").statusCode()).as("slow mode after a restart")
                    .isEqualTo(429);
            HttpResponse<String> off = httpPost(api, "/api/rooms/lobby/slow", "{\"seconds\": 0}", "Authorization",
                    "Bearer " + ADMIN);
            assertThat(off.statusCode()).as(off.body()).isEqualTo(200);
            assertThat(api.postAs("cid", "lobby", "c3", "free").statusCode()).isEqualTo(200);
            assertThat(httpPost(api, "/api/rooms/lobby/slow", "{\"seconds\": 3601}", "Authorization",
                    "Bearer " + ADMIN).statusCode()).isEqualTo(400);
        }
    }

    @Test
    void everyModerationActionIsInTheAuditLogWhichOnlyModeratorsRead() throws Exception {
        TestServer server = open(TestServer.start(dir, withTokens()));
        ApiClient api = open(new ApiClient(server.port()));
        for (int i = 1; i <= 3; i++) {
            assertThat(api.postAs("bob", "lobby", "b" + i, "text " + i).statusCode()).isEqualTo(200);
        }
        String bearer = "Bearer " + ADMIN;
        WsClient mod = open(withToken(server, ADMIN));
        mod.send(Map.of("type", "delete", "room", "lobby", "seq", 3));
        mod.expect("deleted");
        mod.send(Map.of("type", "clear", "room", "lobby", "upTo", 2));
        mod.expect("cleared");
        assertThat(httpPost(api, "/api/rooms/lobby/bans", "{\"user\": \"guest:bob\"}", "Authorization", bearer)
                .statusCode()).isEqualTo(200);
        assertThat(api.send(api.request("/api/rooms/lobby/bans/guest:bob", "Authorization", bearer).DELETE().build())
                .statusCode()).isEqualTo(200);
        mod.send(Map.of("type", "timeout", "room", "lobby", "user", "guest:bob", "seconds", 60));
        mod.expect("moderated");
        mod.send(Map.of("type", "slow", "room", "lobby", "seconds", 5));
        mod.expect("moderated");

        List<String> expected = List.of("slow", "timeout", "unban", "ban", "clear", "delete");
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(10);
        JsonNode page;
        do {
            mod.send(Map.of("type", "audit", "room", "lobby"));
            page = mod.expect("audit");
        } while (page.path("entries").size() < expected.size() && System.nanoTime() < deadline);
        List<String> actions = new ArrayList<>();
        page.path("entries").forEach(e -> actions.add(e.path("action").asText()));
        assertThat(actions).isEqualTo(expected);
        page.path("entries").forEach(e -> {
            assertThat(e.path("by").asText()).isEqualTo("u-admin");
            assertThat(e.path("at").asLong()).isPositive();
        });
        assertThat(page.path("entries").get(1).path("target").asText()).isEqualTo("guest:bob");
        assertThat(page.path("entries").get(4).path("target").asText()).isEqualTo("1-2");
        assertThat(page.path("entries").get(5).path("target").asText()).isEqualTo("3");

        mod.send(Map.of("type", "audit", "room", "lobby", "limit", 4));
        JsonNode first = mod.expect("audit");
        assertThat(first.path("entries").size()).isEqualTo(4);
        long next = first.path("next").asLong();
        HttpResponse<String> rest = api.get("/api/rooms/lobby/audit?before=" + next + "&limit=4",
                "Authorization", bearer);
        assertThat(rest.statusCode()).as(rest.body()).isEqualTo(200);
        List<String> older = new ArrayList<>();
        ApiClient.json(rest).path("entries").forEach(e -> older.add(e.path("action").asText()));
        assertThat(older).containsExactly("clear", "delete");
        assertThat(ApiClient.json(rest).has("next")).isFalse();

        assertThat(api.get("/api/rooms/lobby/audit").statusCode()).isEqualTo(403);
        assertThat(api.get("/api/rooms/lobby/audit", "Authorization", "Bearer " + USER).statusCode()).isEqualTo(403);
        WsClient plain = open(withToken(server, USER));
        plain.send(Map.of("type", "audit", "room", "lobby"));
        assertThat(errorCode(plain)).isEqualTo("forbidden");
        // Another room's log is its own.
        mod.send(Map.of("type", "audit", "room", "elsewhere"));
        assertThat(mod.expect("audit").path("entries").size()).isZero();
    }

    @Test
    void moderationPastItsQueueIsRefusedOverloadedOnBothTransportsAndEveryBanAcceptedHolds() throws Exception {
        TestServer server = open(TestServer.start(dir, c -> TestServer.UNTHROTTLED.apply(withTokens().apply(c))
                .withSqliteBusyTimeout(Duration.ofSeconds(30))));
        WsClient mod = open(withToken(server, ADMIN));
        int refused = 20;
        // Another process holds the database's write lock: the first ban waits for it on the sanctions
        // thread, the next ones wait behind it until the queue is full, and the rest are refused at once.
        try (Connection other = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("parley.db"));
             Statement st = other.createStatement()) {
            st.execute("BEGIN EXCLUSIVE");
            for (int i = 0; i < Sanctions.QUEUE + refused; i++) {
                mod.send(Map.of("type", "ban", "room", "lobby", "user", "guest:u" + i, "ref", i));
            }
            List<JsonNode> errors = mod.take(refused, m -> m.path("type").asText().equals("error"));
            for (JsonNode e : errors) {
                assertThat(e.path("code").asText()).as(e.toString()).isEqualTo("overloaded");
                assertThat(e.path("request").asText()).isEqualTo("ban");
                assertThat(e.path("retryAfter").asLong()).isPositive();
                assertThat(e.path("ref").asInt()).isGreaterThanOrEqualTo(Sanctions.QUEUE);
            }
            try (ApiClient api = new ApiClient(server.port())) {
                HttpResponse<String> late = httpPost(api, "/api/rooms/lobby/bans", "{\"user\": \"guest:late\"}",
                        "Authorization", "Bearer " + ADMIN);
                assertThat(late.statusCode()).as(late.body()).isEqualTo(503);
                assertThat(late.headers().firstValue("Retry-After")).hasValue("1");
                assertThat(ApiClient.json(late).path("code").asText()).isEqualTo("overloaded");
            }
            st.execute("ROLLBACK");
        }
        // Every ban accepted is done, in order, and holds.
        List<JsonNode> done = mod.take(Sanctions.QUEUE, m -> m.path("type").asText().equals("moderated"));
        for (int i = 0; i < Sanctions.QUEUE; i++) {
            assertThat(done.get(i).path("ref").asInt()).isEqualTo(i);
        }
        for (String name : List.of("u0", "u" + (Sanctions.QUEUE - 1))) {
            WsClient banned = open(WsClient.hello(server.chatUri(), name));
            banned.send(Map.of("type", "join", "room", "lobby"));
            assertThat(errorCode(banned)).as(name).isEqualTo("banned");
        }
        WsClient late = open(WsClient.hello(server.chatUri(), "late"));
        assertThat(late.join("lobby").path("room").asText()).isEqualTo("lobby");

        // A deletion takes a place for its audit entry until answered; one that deletes nothing gives it
        // back. In waves of 50, well below the queue: more than the queue in all, none refused.
        for (int wave = 0; wave < 6; wave++) {
            for (int i = 0; i < 50; i++) {
                mod.send(Map.of("type", "delete", "room", "lobby", "seq", 999_999, "ref", i));
            }
            List<JsonNode> nothing = mod.take(50, m -> m.path("type").asText().equals("error"));
            assertThat(nothing).allSatisfy(e -> assertThat(e.path("code").asText()).isEqualTo("no_such_message"));
        }
        mod.send(Map.of("type", "ban", "room", "lobby", "user", "guest:late", "ref", "after"));
        assertThat(mod.expect("moderated").path("ref").asText()).isEqualTo("after");
    }

    static void assertTombstoned(JsonNode message) {
        assertThat(message.path("type").asText("message")).isEqualTo("message");
        assertThat(message.has("text")).as("a tombstone has no text: %s", message).isFalse();
        assertThat(message.path("deleted").path("by").asText()).isEqualTo("u-admin");
        assertThat(message.path("deleted").path("at").asLong()).isPositive();
    }
}
