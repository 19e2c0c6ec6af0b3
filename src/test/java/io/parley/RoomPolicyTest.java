package io.parley;

import com.fasterxml.jackson.databind.JsonNode;
import io.parley.auth.Tokens;
import io.parley.config.ServerConfig.Access;
import io.parley.testing.ApiClient;
import io.parley.testing.TestServer;
import io.parley.testing.WsClient;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Rooms and roles on one node (docs/PROTOCOL.md, "Rooms and roles"): private rooms exist only for their
 * members, a public room's write setting decides who writes, roles come from grants and from the token,
 * and the same refusals come over WebSocket and HTTP.
 */
class RoomPolicyTest {

    static final String SECRET = "the-room-policy-secret-of-32-bytes-or-more";
    static final Tokens TOKENS = new Tokens(SECRET);

    @TempDir
    static Path dir;
    static TestServer server;
    final List<AutoCloseable> opened = new ArrayList<>();
    ApiClient api;

    @BeforeAll
    static void start() throws Exception {
        server = TestServer.start(dir.resolve("create"),
                c -> TestServer.UNTHROTTLED.apply(c).withAccess(Access.defaults().withTokenSecret(SECRET)));
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    @AfterEach
    void closeClients() throws Exception {
        for (AutoCloseable c : opened) {
            c.close();
        }
        if (api != null) {
            api.close();
        }
    }

    static String token(String user, List<String> roles, Map<String, String> rooms) {
        return TOKENS.mint(user, user, roles, rooms, Duration.ofHours(1));
    }

    static String token(String user, String... roles) {
        return token(user, List.of(roles), Map.of());
    }

    /** A WebSocket client said hello with {@code token}. */
    WsClient as(TestServer s, String token) {
        WsClient c = WsClient.connect(s.chatUri(), Map.of("Authorization", "Bearer " + token));
        opened.add(c);
        c.send(Map.of("type", "hello"));
        c.expect("welcome");
        return c;
    }

    WsClient guest(TestServer s, String name) {
        WsClient c = WsClient.hello(s.chatUri(), name);
        opened.add(c);
        return c;
    }

    static String room() {
        return "r-" + UUID.randomUUID().toString().substring(0, 8);
    }

    /** Sends {@code request} and returns the reply to it (matched by ref): the answer or an error. */
    static JsonNode ask(WsClient c, Map<String, Object> request) {
        String ref = UUID.randomUUID().toString();
        Map<String, Object> withRef = new HashMap<>(request);
        withRef.put("ref", ref);
        c.send(withRef);
        return c.take(1, m -> ref.equals(m.path("ref").asText())).getFirst();
    }

    static JsonNode create(WsClient c, String room, String kind, String write) {
        JsonNode reply = ask(c, Map.of("type", "create", "room", room, "kind", kind, "write", write));
        assertThat(reply.path("type").asText()).as(reply.toString()).isEqualTo("room");
        return reply;
    }

    static void assertError(JsonNode reply, String code) {
        assertThat(reply.path("type").asText()).as(reply.toString()).isEqualTo("error");
        assertThat(reply.path("code").asText()).as(reply.toString()).isEqualTo(code);
    }

    ApiClient api() {
        if (api == null) {
            api = new ApiClient(server.port());
        }
        return api;
    }

    HttpResponse<String> http(String method, String path, String body, String token) {
        HttpRequest.Builder b = api().request(path).header("Content-Type", "application/json");
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        return api().send(b.method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                : HttpRequest.BodyPublishers.ofString(body)).build());
    }

    static void assertHttpError(HttpResponse<String> r, int status, String code) {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(status);
        assertThat(ApiClient.json(r).path("code").asText()).as(r.body()).isEqualTo(code);
    }

    @Test
    void aPrivateRoomIsNotFoundToOutsidersOverWebSocketAndHttp() {
        String room = room();
        WsClient admin = as(server, token("ada", "admin"));
        JsonNode created = create(admin, room, "private", "everyone");
        assertThat(created.path("kind").asText()).isEqualTo("private");
        assertThat(created.path("roles").path("ada").asText()).isEqualTo("owner");
        admin.join(room);
        admin.say(room, "m1", "the secret");
        admin.expect("ack");

        String bobToken = token("bob");
        WsClient bob = as(server, bobToken);
        assertError(ask(bob, Map.of("type", "join", "room", room)), "not_found");
        assertError(ask(bob, Map.of("type", "room_settings", "room", room)), "not_found");
        assertError(ask(bob, Map.of("type", "set", "room", room, "kind", "public")), "not_found");
        assertError(ask(bob, Map.of("type", "grant", "room", room, "user", "bob", "role", "member")), "not_found");
        assertThat(ask(bob, Map.of("type", "rooms")).path("rooms").toString()).doesNotContain(room);
        WsClient eve = guest(server, "eve");
        assertError(ask(eve, Map.of("type", "join", "room", room)), "not_found");

        for (String token : new String[] {bobToken, null}) {
            assertHttpError(http("GET", "/api/rooms/" + room + "/messages", null, token), 404, "not_found");
            assertHttpError(http("GET", "/api/rooms/" + room + "/messages?since=0&wait=1", null, token), 404, "not_found");
            assertHttpError(http("GET", "/api/rooms/" + room + "/members", null, token), 404, "not_found");
            assertHttpError(http("GET", "/api/rooms/" + room, null, token), 404, "not_found");
            if (token != null) {
                assertHttpError(http("POST", "/api/rooms/" + room + "/messages", ApiClient.body("h1", "in"), token),
                        404, "not_found");
            }
            assertThat(http("GET", "/api/rooms", null, token).body()).doesNotContain(room);
        }
        assertHttpError(api().postAs("eve", room, "h2", "in"), 404, "not_found");
        // Nothing of the outsiders' got in.
        assertThat(admin.join(room + "x").path("room").asText()).isEqualTo(room + "x");
        JsonNode history = ask(admin, Map.of("type", "history", "room", room));
        assertThat(history.path("messages")).hasSize(1);
        assertThat(http("GET", "/api/rooms", null, token("ada", "admin")).body()).contains(room);
    }

    @Test
    void aGrantedMemberJoinsReadsAndWritesAndIsRemovedAtOnceWhenRevoked() {
        String room = room();
        WsClient owner = as(server, token("olga"));
        create(owner, room, "private", "everyone");
        WsClient bob = as(server, token("bob"));
        JsonNode granted = ask(owner, Map.of("type", "grant", "room", room, "user", "bob", "role", "member"));
        assertThat(granted.path("roles").path("bob").asText()).as(granted.toString()).isEqualTo("member");

        bob.join(room);
        bob.say(room, "b1", "hello");
        bob.expect("ack");
        assertThat(http("GET", "/api/rooms/" + room + "/messages", null, token("bob")).statusCode()).isEqualTo(200);
        assertThat(ask(bob, Map.of("type", "rooms")).path("rooms").toString()).contains(room);

        JsonNode revoked = ask(owner, Map.of("type", "revoke", "room", room, "user", "bob"));
        assertThat(revoked.path("roles").has("bob")).isFalse();
        JsonNode removed = bob.expect("removed");
        assertThat(removed.path("room").asText()).isEqualTo(room);
        assertThat(removed.path("reason").asText()).isEqualTo("access_revoked");
        assertError(ask(bob, Map.of("type", "send", "room", room, "id", "b2", "text", "still?")), "not_member");
        assertError(ask(bob, Map.of("type", "join", "room", room)), "not_found");
        assertHttpError(http("POST", "/api/rooms/" + room + "/messages", ApiClient.body("b3", "by http"), token("bob")),
                404, "not_found");
    }

    @Test
    void aPublicRoomsWriteSettingDecidesWhoWritesWhileEveryoneReads() {
        String room = room();
        WsClient owner = as(server, token("olga"));
        create(owner, room, "public", "signed_in");
        WsClient eve = guest(server, "eve");
        eve.join(room);
        assertError(ask(eve, Map.of("type", "send", "room", room, "id", "e1", "text", "hi")), "forbidden");
        assertHttpError(api().postAs("eve", room, "e2", "hi"), 403, "forbidden");
        WsClient bob = as(server, token("bob"));
        bob.join(room);
        bob.say(room, "b1", "signed in");
        bob.expect("ack");
        eve.expect("message", m -> m.path("id").asText().equals("b1"));

        JsonNode set = ask(owner, Map.of("type", "set", "room", room, "write", "members"));
        assertThat(set.path("write").asText()).isEqualTo("members");
        assertThat(set.path("kind").asText()).isEqualTo("public");
        assertError(ask(bob, Map.of("type", "send", "room", room, "id", "b2", "text", "no")), "forbidden");
        assertHttpError(http("POST", "/api/rooms/" + room + "/messages", ApiClient.body("b3", "no"), token("bob")),
                403, "forbidden");
        // Readers stay: a public room is readable by everyone whatever its write setting.
        assertThat(http("GET", "/api/rooms/" + room + "/messages", null, null).statusCode()).isEqualTo(200);
        ask(owner, Map.of("type", "grant", "room", room, "user", "bob", "role", "member"));
        bob.say(room, "b4", "a member now");
        bob.expect("ack", m -> m.path("id").asText().equals("b4"));
        // A token's claim counts as a grant.
        WsClient carl = as(server, token("carl", List.of(), Map.of(room, "member")));
        carl.say(room, "c1", "claimed");
        assertError(carl.take(1, m -> m.path("id").asText().equals("c1")).getFirst(), "not_member");
        carl.join(room);
        carl.say(room, "c2", "claimed");
        carl.expect("ack", m -> m.path("id").asText().equals("c2"));
    }

    @Test
    void aTokensRoomsClaimLetsItIntoAPrivateRoom() {
        String room = room();
        WsClient admin = as(server, token("ada", "admin"));
        create(admin, room, "private", "everyone");
        WsClient claimed = as(server, token("dan", List.of(), Map.of(room, "member")));
        claimed.join(room);
        WsClient other = as(server, token("dan2", List.of(), Map.of(room + "-other", "owner")));
        assertError(ask(other, Map.of("type", "join", "room", room)), "not_found");
    }

    @Test
    void aRefreshedTokenThatNoLongerGrantsTheRoomTakesTheConnectionOut() {
        String room = room();
        create(as(server, token("ada", "admin")), room, "private", "everyone");
        WsClient dan = as(server, token("dan", List.of(), Map.of(room, "member")));
        dan.join(room);
        dan.send(Map.of("type", "refresh", "token", token("dan")));
        List<JsonNode> replies = dan.take(2, m -> m.path("type").asText().matches("refreshed|removed|error"));
        assertThat(replies).extracting(m -> m.path("type").asText()).containsExactlyInAnyOrder("refreshed", "removed");
        assertThat(replies).anyMatch(m -> m.path("room").asText().equals(room));
        assertError(ask(dan, Map.of("type", "join", "room", room)), "not_found");
    }

    @Test
    void ownersAndAdminsChangeEverythingModeratorsOnlyMembersAndOthersNothing() {
        String room = room();
        WsClient owner = as(server, token("olga"));
        create(owner, room, "public", "everyone");
        ask(owner, Map.of("type", "grant", "room", room, "user", "mo", "role", "moderator"));
        ask(owner, Map.of("type", "grant", "room", room, "user", "mel", "role", "member"));
        WsClient mod = as(server, token("mo"));
        WsClient member = as(server, token("mel"));

        assertThat(ask(mod, Map.of("type", "grant", "room", room, "user", "new", "role", "member"))
                .path("type").asText()).isEqualTo("room");
        assertError(ask(mod, Map.of("type", "grant", "room", room, "user", "new", "role", "moderator")), "forbidden");
        assertError(ask(mod, Map.of("type", "revoke", "room", room, "user", "olga")), "forbidden");
        assertError(ask(mod, Map.of("type", "set", "room", room, "kind", "private")), "forbidden");
        assertError(ask(member, Map.of("type", "grant", "room", room, "user", "x", "role", "member")), "forbidden");
        assertError(ask(member, Map.of("type", "set", "room", room, "write", "members")), "forbidden");
        // Who may moderate sees the people; others see the settings only.
        assertThat(ask(mod, Map.of("type", "room_settings", "room", room)).has("roles")).isTrue();
        assertThat(ask(member, Map.of("type", "room_settings", "room", room)).has("roles")).isFalse();
        assertError(ask(owner, Map.of("type", "grant", "room", room, "user", "guest:eve", "role", "member")),
                "bad_request");
        assertError(ask(owner, Map.of("type", "grant", "room", room, "user", "x", "role", "king")), "bad_request");
        assertError(ask(owner, Map.of("type", "create", "room", room)), "room_exists");
        assertError(ask(guest(server, "gus"), Map.of("type", "create", "room", room())), "forbidden");
        WsClient admin = as(server, token("ada", "admin"));
        assertThat(ask(admin, Map.of("type", "set", "room", room, "kind", "private")).path("kind").asText())
                .isEqualTo("private");
    }

    @Test
    void theHttpAdminApiCreatesChangesGrantsAndRevokes() {
        String room = room();
        String admin = token("ada", "admin");
        HttpResponse<String> created = http("POST", "/api/rooms",
                "{\"room\":\"" + room + "\",\"kind\":\"private\",\"write\":\"members\"}", admin);
        assertThat(created.statusCode()).as(created.body()).isEqualTo(200);
        assertThat(ApiClient.json(created).path("createdBy").asText()).isEqualTo("ada");
        assertHttpError(http("POST", "/api/rooms", "{\"room\":\"" + room + "\"}", admin), 409, "room_exists");
        assertHttpError(http("POST", "/api/rooms", "{\"room\":\"" + room() + "\"}", null), 403, "forbidden");
        assertHttpError(http("POST", "/api/rooms", "{\"room\":\"x\",\"kind\":\"secret\"}", admin), 400, "bad_request");

        HttpResponse<String> granted = http("POST", "/api/rooms/" + room + "/roles/account:7",
                "{\"role\":\"moderator\"}", admin);
        assertThat(ApiClient.json(granted).path("roles").path("account:7").asText()).as(granted.body())
                .isEqualTo("moderator");
        HttpResponse<String> patched = http("PATCH", "/api/rooms/" + room, "{\"kind\":\"public\"}", admin);
        assertThat(ApiClient.json(patched).path("kind").asText()).as(patched.body()).isEqualTo("public");
        assertThat(ApiClient.json(patched).path("write").asText()).isEqualTo("members");
        assertThat(ApiClient.json(http("GET", "/api/rooms/" + room, null, null)).path("kind").asText())
                .isEqualTo("public");
        HttpResponse<String> revoked = http("DELETE", "/api/rooms/" + room + "/roles/account%3A7", null, admin);
        assertThat(ApiClient.json(revoked).path("roles").has("account:7")).as(revoked.body()).isFalse();
        assertHttpError(http("PATCH", "/api/rooms/" + room, "{\"kind\":\"private\"}", token("bob")), 403, "forbidden");
        assertHttpError(http("PATCH", "/api/rooms/" + room, "{\"kind\":\"private\"}", null), 403, "forbidden");
        assertHttpError(http("PUT", "/api/rooms/" + room, "{}", admin), 405, "method_not_allowed");
    }

    @Test
    void refusingRoomsOnJoinMakesUnknownRoomsNotFoundAndOnlyAdminsCreate() throws Exception {
        try (TestServer refusing = TestServer.start(dir.resolve("refuse"), c -> TestServer.UNTHROTTLED.apply(c)
                .withAccess(Access.defaults().withTokenSecret(SECRET).withRoomsOnJoin(false)))) {
            String room = room();
            WsClient bob = as(refusing, token("bob"));
            assertError(ask(bob, Map.of("type", "join", "room", room)), "not_found");
            assertError(ask(bob, Map.of("type", "send", "room", room, "id", "1", "text", "x")), "not_member");
            assertError(ask(bob, Map.of("type", "create", "room", room)), "forbidden");
            try (ApiClient http = new ApiClient(refusing.port())) {
                assertHttpError(http.postAs("eve", room, "e1", "x"), 404, "not_found");
                assertHttpError(http.get("/api/rooms/" + room + "/messages"), 404, "not_found");
            }
            WsClient admin = as(refusing, token("ada", "admin"));
            create(admin, room, "public", "everyone");
            bob.join(room);
            bob.say(room, "b1", "now it exists");
            bob.expect("ack");
        }
    }
}
