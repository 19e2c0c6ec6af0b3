package io.parley;

import com.fasterxml.jackson.databind.JsonNode;
import io.parley.testing.ApiClient;
import io.parley.testing.TestServer;
import io.parley.testing.WsClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static io.parley.ModerationTest.httpDelete;
import static io.parley.ModerationTest.httpPost;
import static io.parley.ModerationTest.withToken;
import static io.parley.ModerationTest.withTokens;
import static io.parley.RoomPolicyTest.ask;
import static io.parley.RoomPolicyTest.assertError;
import static io.parley.RoomPolicyTest.create;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Moderation asks the room roles (the merge of issue 12's two halves): a room's moderator named with
 * {@code grant}, no server admin, may delete and ban in that room, over WebSocket and HTTP; a plain
 * member of the room may not ({@code forbidden}); and a private room stays {@code not_found} to a
 * stranger who asks to moderate it.
 */
class RoomModeratorsTest {

    static final String ADMIN = AccessTest.validToken("u-admin", "Root", "admin");
    static final String MOD = AccessTest.validToken("u-mo", "Mo");
    static final String MEMBER = AccessTest.validToken("u-mel", "Mel");
    static final String STRANGER = AccessTest.validToken("u-out", "Out");

    @TempDir
    Path dir;
    private final List<AutoCloseable> open = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (AutoCloseable c : open.reversed()) {
            c.close();
        }
    }

    private <T extends AutoCloseable> T open(T c) {
        open.add(c);
        return c;
    }

    private WsClient as(TestServer server, String token) {
        return open(withToken(server, token));
    }

    /** A room made by the admin, with u-mo its moderator and u-mel its member, and two messages by u-mel. */
    private WsClient staffRoom(TestServer server, WsClient admin, String room, String kind) {
        create(admin, room, kind, "everyone");
        assertThat(ask(admin, Map.of("type", "grant", "room", room, "user", "u-mo", "role", "moderator"))
                .path("type").asText()).isEqualTo("room");
        assertThat(ask(admin, Map.of("type", "grant", "room", room, "user", "u-mel", "role", "member"))
                .path("type").asText()).isEqualTo("room");
        WsClient mel = as(server, MEMBER);
        mel.join(room);
        mel.say(room, "m1", "first");
        mel.say(room, "m2", "second");
        mel.expect("ack", m -> m.path("id").asText().equals("m2"));
        return mel;
    }

    @Test
    void aGrantedModeratorDeletesAndBansAndAPlainMemberMayNot() throws Exception {
        TestServer server = open(TestServer.start(dir, withTokens()));
        WsClient admin = as(server, ADMIN);
        WsClient mel = staffRoom(server, admin, "staff", "public");
        WsClient mo = as(server, MOD);

        // The plain member: forbidden, on both transports, for a delete and a ban.
        assertError(ask(mel, Map.of("type", "delete", "room", "staff", "seq", 1)), "forbidden");
        assertError(ask(mel, Map.of("type", "ban", "room", "staff", "user", "u-mo")), "forbidden");
        try (ApiClient api = new ApiClient(server.port())) {
            HttpResponse<String> refused = httpDelete(api, "staff", "1", "Authorization", "Bearer " + MEMBER);
            assertThat(refused.statusCode()).as(refused.body()).isEqualTo(403);
            assertThat(httpPost(api, "/api/rooms/staff/bans", "{\"user\":\"u-mo\"}", "Authorization",
                    "Bearer " + MEMBER).statusCode()).isEqualTo(403);

            // The room's moderator (no admin role anywhere) deletes over WebSocket; the member hears it.
            JsonNode deleted = ask(mo, Map.of("type", "delete", "room", "staff", "seq", 1));
            assertThat(deleted.path("type").asText()).as(deleted.toString()).isEqualTo("deleted");
            assertThat(deleted.path("by").asText()).isEqualTo("u-mo");
            assertThat(mel.expect("deleted").path("seq").asLong()).isEqualTo(1);
            // ...and over HTTP, as a bot with its token.
            HttpResponse<String> byHttp = httpDelete(api, "staff", "2", "Authorization", "Bearer " + MOD);
            assertThat(byHttp.statusCode()).as(byHttp.body()).isEqualTo(200);

            // It moderates this room only.
            assertError(ask(mo, Map.of("type", "delete", "room", "lobby", "seq", 1)), "forbidden");
        }

        // The moderator bans the member: removed at once, its rejoin refused.
        JsonNode banned = ask(mo, Map.of("type", "ban", "room", "staff", "user", "u-mel"));
        assertThat(banned.path("type").asText()).as(banned.toString()).isEqualTo("moderated");
        JsonNode removed = mel.expect("removed");
        assertThat(removed.path("reason").asText()).isEqualTo("banned");
        assertError(ask(mel, Map.of("type", "join", "room", "staff")), "banned");
    }

    @Test
    void aPrivateRoomsModeratorModeratesItAndAStrangerGetsNotFound() throws Exception {
        TestServer server = open(TestServer.start(dir, withTokens()));
        WsClient admin = as(server, ADMIN);
        WsClient mel = staffRoom(server, admin, "secret", "private");
        WsClient mo = as(server, MOD);
        // A moderator of a private room is one of its people: it may join and read it.
        assertThat(mo.join("secret").path("history").size()).isEqualTo(2);

        WsClient out = as(server, STRANGER);
        for (Map<String, Object> request : List.<Map<String, Object>>of(
                Map.of("type", "delete", "room", "secret", "seq", 1),
                Map.of("type", "clear", "room", "secret", "upTo", 2),
                Map.of("type", "ban", "room", "secret", "user", "u-mel"),
                Map.of("type", "timeout", "room", "secret", "user", "u-mel", "seconds", 60),
                Map.of("type", "slow", "room", "secret", "seconds", 5),
                Map.of("type", "audit", "room", "secret"))) {
            assertError(ask(out, request), "not_found");
        }
        assertError(ask(mel, Map.of("type", "delete", "room", "secret", "seq", 1)), "forbidden");
        try (ApiClient api = new ApiClient(server.port())) {
            HttpResponse<String> hidden = httpDelete(api, "secret", "1", "Authorization", "Bearer " + STRANGER);
            assertThat(hidden.statusCode()).as(hidden.body()).isEqualTo(404);
            assertThat(ApiClient.json(hidden).path("code").asText()).isEqualTo("not_found");
            assertThat(httpDelete(api, "secret", "1", "X-Parley-Name", "gus").statusCode()).isEqualTo(404);
            assertThat(api.send(api.request("/api/rooms/secret/audit", "Authorization", "Bearer " + STRANGER)
                    .GET().build()).statusCode()).isEqualTo(404);
            HttpResponse<String> refused = httpDelete(api, "secret", "1", "Authorization", "Bearer " + MEMBER);
            assertThat(refused.statusCode()).as(refused.body()).isEqualTo(403);
        }

        JsonNode deleted = ask(mo, Map.of("type", "delete", "room", "secret", "seq", 1));
        assertThat(deleted.path("type").asText()).as(deleted.toString()).isEqualTo("deleted");
        assertThat(mel.expect("deleted").path("seq").asLong()).isEqualTo(1);
        assertThat(ask(mo, Map.of("type", "ban", "room", "secret", "user", "u-mel")).path("type").asText())
                .isEqualTo("moderated");
        assertThat(mel.expect("removed").path("reason").asText()).isEqualTo("banned");
    }
}
