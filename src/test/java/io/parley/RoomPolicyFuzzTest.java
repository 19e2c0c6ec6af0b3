package io.parley;

import com.fasterxml.jackson.databind.JsonNode;
import io.parley.config.ServerConfig.Access;
import io.parley.testing.ApiClient;
import io.parley.testing.TestServer;
import io.parley.testing.WsClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static io.parley.RoomPolicyTest.ask;
import static io.parley.RoomPolicyTest.token;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Random room requests, over WebSocket and HTTP, from users without the role for them (guests,
 * strangers, members, moderators reaching for an owner's powers), moderation requests (delete, clear,
 * ban, timeout, slow, audit) from those who may not moderate included: nothing gets through.
 * Afterwards the rooms' records are as the owner left them, no outsider's message is stored, no
 * message is deleted, nobody is banned, the audit logs are empty, and no outsider saw the private
 * room's text or found it listed.
 */
class RoomPolicyFuzzTest {

    private static final String SECRET_TEXT = "the password is swordfish";
    private static final int REQUESTS = 400;

    @TempDir
    Path dir;

    @Test
    void requestsWithoutTheRoleChangeNothingAndSeeNothing() throws Exception {
        long seed = System.nanoTime();
        System.out.println("RoomPolicyFuzzTest seed " + seed);
        Random random = new Random(seed);
        try (TestServer server = TestServer.start(dir, c -> TestServer.UNTHROTTLED.apply(c)
                .withAccess(Access.defaults().withTokenSecret(RoomPolicyTest.SECRET)));
             ApiClient http = new ApiClient(server.port())) {
            List<WsClient> clients = new ArrayList<>();
            try {
                WsClient owner = connect(server, token("olga"), clients);
                RoomPolicyTest.create(owner, "vault", "private", "everyone");
                RoomPolicyTest.create(owner, "stage", "public", "members");
                ask(owner, Map.of("type", "grant", "room", "vault", "user", "mo", "role", "moderator"));
                ask(owner, Map.of("type", "grant", "room", "stage", "user", "mo", "role", "moderator"));
                ask(owner, Map.of("type", "grant", "room", "stage", "user", "mel", "role", "member"));
                owner.join("vault");
                owner.say("vault", "s1", SECRET_TEXT);
                owner.expect("ack");
                JsonNode vaultBefore = ask(owner, Map.of("type", "room_settings", "room", "vault"));
                JsonNode stageBefore = ask(owner, Map.of("type", "room_settings", "room", "stage"));

                // Outsiders of the vault: they may neither see it nor change either room beyond their role.
                // The moderator is in the mix for the vault's owner-only requests alone (below).
                String[] outsiderTokens = {token("stranger"), token("mel"), token("tok", List.of(),
                        Map.of("stage", "member", "other", "owner"))};
                List<WsClient> outsiders = new ArrayList<>();
                for (String t : outsiderTokens) {
                    outsiders.add(connect(server, t, clients));
                }
                WsClient guest = WsClient.hello(server.chatUri(), "gus");
                clients.add(guest);
                outsiders.add(guest);
                WsClient mod = connect(server, token("mo"), clients);

                for (WsClient c : outsiders) {
                    c.join("stage");
                }
                String[] rooms = {"vault", "stage"};
                String[] users = {"olga", "mo", "mel", "stranger", "tok", "guest:gus", "account:1"};
                String[] roles = {"owner", "moderator", "member"};
                String[] kinds = {"public", "private"};
                String[] writes = {"everyone", "signed_in", "members"};
                int moderator = outsiders.size();
                for (int i = 0; i < REQUESTS; i++) {
                    String room = rooms[random.nextInt(rooms.length)];
                    int who = random.nextInt(outsiders.size() + 1);
                    boolean member = who == 1 || who == 2;
                    // What this one has no right to: everything of the vault; of the stage, changes, and
                    // writing unless a member; a moderator, only an owner's changes. Nobody but the
                    // moderator may moderate either room (ops 8-13).
                    int[] ops = who == moderator ? new int[] {0, 2, 3}
                            : room.equals("vault") ? new int[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}
                            : member ? new int[] {0, 2, 3, 7, 8, 9, 10, 11, 12, 13}
                            : new int[] {0, 1, 2, 3, 7, 8, 9, 10, 11, 12, 13};
                    int op = ops[random.nextInt(ops.length)];
                    String user = who == moderator && op == 3 ? (random.nextBoolean() ? "olga" : "mo")
                            : users[random.nextInt(users.length)];
                    String role = who == moderator ? roles[random.nextInt(2)] : roles[random.nextInt(roles.length)];
                    String kind = kinds[random.nextInt(kinds.length)];
                    String write = writes[random.nextInt(writes.length)];
                    String token = who < outsiderTokens.length ? outsiderTokens[who] : who == moderator ? token("mo") : null;
                    if (random.nextBoolean()) {
                        HttpResponse<String> r = switch (op) {
                            case 0 -> send(http, "PATCH", "/api/rooms/" + room, "{\"kind\":\"" + kind + "\",\"write\":\""
                                    + write + "\"}", token);
                            case 1 -> send(http, "POST", "/api/rooms/" + room + "/messages",
                                    ApiClient.body("f" + i, "fuzz " + i), token, "gus");
                            case 2 -> send(http, "POST", "/api/rooms/" + room + "/roles/" + user,
                                    "{\"role\":\"" + role + "\"}", token);
                            case 3 -> send(http, "DELETE", "/api/rooms/" + room + "/roles/" + user, null, token);
                            case 4 -> send(http, "GET", "/api/rooms/" + room + "/messages", null, token, "gus");
                            case 5 -> send(http, "GET", "/api/rooms/" + room + "/messages?since=0", null, token, "gus");
                            case 6 -> send(http, "GET", "/api/rooms/" + room + "/members", null, token, "gus");
                            case 8 -> send(http, "DELETE", "/api/rooms/" + room + "/messages/1", null, token, "gus");
                            case 9 -> send(http, "POST", "/api/rooms/" + room + "/clear", "{\"upTo\":5}", token, "gus");
                            case 10 -> send(http, "POST", "/api/rooms/" + room + "/bans", "{\"user\":\"" + user + "\"}",
                                    token, "gus");
                            case 11 -> send(http, "POST", "/api/rooms/" + room + "/timeouts", "{\"user\":\"" + user
                                    + "\",\"seconds\":60}", token, "gus");
                            case 12 -> send(http, "POST", "/api/rooms/" + room + "/slow", "{\"seconds\":5}", token, "gus");
                            case 13 -> send(http, "GET", "/api/rooms/" + room + "/audit", null, token, "gus");
                            default -> send(http, "POST", "/api/rooms", "{\"room\":\"" + room + "\"}", token);
                        };
                        assertThat(r.statusCode()).as("seed %d, request %d: %s", seed, i, r.body()).isIn(400, 403, 404, 409);
                        assertThat(r.body()).doesNotContain(SECRET_TEXT);
                    } else {
                        WsClient c = who == moderator ? mod : outsiders.get(who);
                        Map<String, Object> request = switch (op) {
                            case 0 -> Map.of("type", "set", "room", room, "kind", kind, "write", write);
                            case 1 -> Map.of("type", "send", "room", room, "id", "w" + i, "text", "fuzz " + i);
                            case 2 -> Map.of("type", "grant", "room", room, "user", user, "role", role);
                            case 3 -> Map.of("type", "revoke", "room", room, "user", user);
                            case 4 -> Map.of("type", "join", "room", room);
                            case 5 -> Map.of("type", "history", "room", room);
                            case 6 -> Map.of("type", "room_settings", "room", room);
                            case 8 -> Map.of("type", "delete", "room", room, "seq", 1);
                            case 9 -> Map.of("type", "clear", "room", room, "upTo", 5);
                            case 10 -> Map.of("type", "ban", "room", room, "user", user);
                            case 11 -> Map.of("type", "timeout", "room", room, "user", user, "seconds", 60);
                            case 12 -> Map.of("type", "slow", "room", room, "seconds", 5);
                            case 13 -> Map.of("type", "audit", "room", room);
                            default -> Map.of("type", "create", "room", room, "kind", kind);
                        };
                        JsonNode reply = ask(c, request);
                        assertThat(reply.path("type").asText()).as("seed %d, request %d %s: %s", seed, i, request,
                                reply).isEqualTo("error");
                        assertThat(reply.path("code").asText()).isIn("forbidden", "not_found", "not_member",
                                "room_exists", "bad_request");
                    }
                }
                for (WsClient c : outsiders) {
                    JsonNode listing = ask(c, Map.of("type", "rooms"));
                    assertThat(listing.path("rooms").toString()).doesNotContain("vault");
                }
                for (WsClient c : clients) {
                    if (c != owner) {
                        for (JsonNode m : c.drain(java.time.Duration.ofMillis(200))) {
                            assertThat(m.toString()).as("seed %d", seed).doesNotContain(SECRET_TEXT);
                        }
                    }
                }
                for (String[] room : new String[][] {{"vault", vaultBefore.toString()}, {"stage", stageBefore.toString()}}) {
                    JsonNode before = WsClient.JSON.readTree(room[1]);
                    JsonNode after = ask(owner, Map.of("type", "room_settings", "room", room[0]));
                    for (String field : new String[] {"kind", "write", "roles", "createdBy"}) {
                        assertThat(after.path(field)).as("seed %d, %s's %s", seed, room[0], field)
                                .isEqualTo(before.path(field));
                    }
                }
                JsonNode vault = ask(owner, Map.of("type", "history", "room", "vault", "limit", 100));
                assertThat(vault.path("messages")).as("seed %d", seed).hasSize(1);
                assertThat(vault.path("messages").get(0).path("text").asText()).as("seed %d", seed)
                        .isEqualTo(SECRET_TEXT);
                for (String room : rooms) {
                    JsonNode audit = ask(owner, Map.of("type", "audit", "room", room));
                    assertThat(audit.path("entries")).as("seed %d, %s: %s", seed, room, audit).isEmpty();
                }
                ask(owner, Map.of("type", "join", "room", "stage"));
                JsonNode stage = ask(owner, Map.of("type", "history", "room", "stage", "limit", 100));
                for (JsonNode m : stage.path("messages")) {
                    assertThat(m.path("user").asText()).as("seed %d: %s", seed, m).isEqualTo("olga");
                }
            } finally {
                clients.forEach(WsClient::close);
            }
        }
    }

    private static WsClient connect(TestServer server, String token, List<WsClient> clients) {
        WsClient c = WsClient.connect(server.chatUri(), Map.of("Authorization", "Bearer " + token));
        clients.add(c);
        c.send(Map.of("type", "hello"));
        c.expect("welcome");
        return c;
    }

    private static HttpResponse<String> send(ApiClient http, String method, String path, String body, String token,
                                             String... guestName) {
        HttpRequest.Builder b = http.request(path).header("Content-Type", "application/json");
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        } else if (guestName.length > 0) {
            b.header("X-Parley-Name", guestName[0]);
        }
        return http.send(b.method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                : HttpRequest.BodyPublishers.ofString(body)).build());
    }
}
