package io.parley.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.parley.auth.Tokens;
import io.parley.config.ServerConfig.Access;
import io.parley.testing.ApiClient;
import io.parley.testing.TestServer;
import io.parley.testing.WsClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code parley room ...} against a running server with an admin token: what it does is in force in
 * the server at once, and a refusal is its code and exit status 1.
 */
class RoomCommandTest {

    private static final String SECRET = "the-room-command-secret-of-32-bytes-or-more";

    @TempDir
    Path dir;
    private TestServer server;
    private String admin;

    @BeforeEach
    void start() throws Exception {
        server = TestServer.start(dir, c -> c.withAccess(Access.defaults().withTokenSecret(SECRET)));
        admin = new Tokens(SECRET).mint("ops", "ops", List.of("admin"), Duration.ofHours(1));
    }

    @AfterEach
    void stop() {
        server.close();
    }

    record Run(int exit, String out, String err) { }

    private Run room(String token, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        List<String> all = new ArrayList<>(List.of("room"));
        all.addAll(List.of(args));
        all.addAll(List.of("--url", "http://127.0.0.1:" + server.port(), "--token", token));
        int exit = new CommandLine(new ParleyCommand()).setOut(new PrintWriter(out)).setErr(new PrintWriter(err))
                .execute(all.toArray(String[]::new));
        return new Run(exit, out.toString(), err.toString());
    }

    @Test
    void createsSetsGrantsAndRevokesOnTheRunningServer() throws Exception {
        Run created = room(admin, "create", "staff", "--kind", "private", "--write", "members");
        assertThat(created.exit()).as(created.err()).isZero();
        assertThat(WsClient.JSON.readTree(created.out()).path("kind").asText()).isEqualTo("private");

        Run granted = room(admin, "grant", "staff", "account:12", "moderator");
        assertThat(granted.exit()).as(granted.err()).isZero();
        JsonNode roles = WsClient.JSON.readTree(granted.out()).path("roles");
        assertThat(roles.path("account:12").asText()).isEqualTo("moderator");

        Run set = room(admin, "set", "staff", "--kind", "public");
        assertThat(WsClient.JSON.readTree(set.out()).path("kind").asText()).as(set.err()).isEqualTo("public");
        assertThat(WsClient.JSON.readTree(set.out()).path("write").asText()).isEqualTo("members");

        Run revoked = room(admin, "revoke", "staff", "account:12");
        assertThat(WsClient.JSON.readTree(revoked.out()).path("roles").has("account:12")).isFalse();
        assertThat(room(admin, "list").out()).contains("\"staff\"");
        assertThat(room(admin, "show", "staff").out()).contains("\"createdBy\":\"ops\"");

        // In force in the server: a guest may read the (now public) room but not write in it.
        try (WsClient guest = WsClient.hello(server.chatUri(), "gus")) {
            guest.join("staff");
            guest.say("staff", "g1", "hi");
            assertThat(guest.expect("error").path("code").asText()).isEqualTo("forbidden");
        }
    }

    @Test
    void aRefusalIsItsCodeAndExitStatusOne() {
        String nobody = new Tokens(SECRET).mint("bob", "bob", List.of(), Duration.ofHours(1));
        room(admin, "create", "staff", "--kind", "private");
        Run refused = room(nobody, "set", "staff", "--write", "members");
        assertThat(refused.exit()).isEqualTo(1);
        assertThat(refused.err()).startsWith("not_found: ");
        Run exists = room(admin, "create", "staff");
        assertThat(exists.exit()).isEqualTo(1);
        assertThat(exists.err()).startsWith("room_exists: ");
        assertThat(room("not-a-token", "list").err()).startsWith("unauthorized: ");
    }

    @Test
    void aTokenMintedWithARoomLetsItsUserIntoThatPrivateRoom() {
        room(admin, "create", "staff", "--kind", "private");
        StringWriter out = new StringWriter();
        int exit = new CommandLine(new ParleyCommand()).setOut(new PrintWriter(out)).execute("token", "--user", "dan",
                "--name", "dan", "--room", "staff=member", "--secret", SECRET);
        assertThat(exit).isZero();
        try (WsClient dan = WsClient.connect(server.chatUri(), java.util.Map.of("Authorization", "Bearer "
                + out.toString().strip()))) {
            dan.send(java.util.Map.of("type", "hello"));
            dan.expect("welcome");
            assertThat(dan.join("staff").path("room").asText()).isEqualTo("staff");
        }
    }

    private ApiClient api() {
        return new ApiClient(server.port());
    }

    private static void succeeds(Run run, String line) {
        assertThat(run.exit()).as(run.err()).isZero();
        assertThat(run.out().strip()).isEqualTo(line);
    }

    private static String refusal(HttpResponse<String> response) {
        return ApiClient.json(response).path("code").asText();
    }

    @Test
    void deleteAndClearLeaveTombstonesInTheStoredHistory() {
        try (ApiClient api = api()) {
            for (int i = 1; i <= 4; i++) {
                assertThat(api.postAs("ann", "lobby", "a" + i, "text " + i).statusCode()).isEqualTo(200);
            }
            succeeds(room(admin, "delete", "lobby", "2"), "deleted message 2 of lobby");
            JsonNode messages = ApiClient.json(api.get("/api/rooms/lobby/messages")).path("messages");
            assertThat(messages.get(1).path("deleted").path("by").asText()).isEqualTo("ops");
            assertThat(messages.get(1).has("text")).isFalse();
            assertThat(messages.get(0).path("text").asText()).isEqualTo("text 1");

            // Seq 2 is gone already: a clear up to 3 deletes 1 and 3, and leaves 4.
            succeeds(room(admin, "clear", "lobby", "--up-to", "3"), "cleared 2 messages of lobby, up to 3");
            messages = ApiClient.json(api.get("/api/rooms/lobby/messages")).path("messages");
            for (int i = 0; i < 3; i++) {
                assertThat(messages.get(i).has("text")).as("seq %d", i + 1).isFalse();
            }
            assertThat(messages.get(3).path("text").asText()).isEqualTo("text 4");
            succeeds(room(admin, "clear", "lobby", "--up-to", "3"), "nothing left to clear in lobby up to 3");

            Run missing = room(admin, "delete", "lobby", "9");
            assertThat(missing.exit()).isEqualTo(1);
            assertThat(missing.err()).startsWith("no_such_message: ");
        }
    }

    @Test
    void banUnbanTimeoutAndSlowAreInForceOnTheServer() {
        try (ApiClient api = api()) {
            assertThat(api.postAs("ann", "lobby", "a1", "hello").statusCode()).isEqualTo(200);

            succeeds(room(admin, "ban", "lobby", "guest:ann"), "banned guest:ann from lobby");
            assertThat(refusal(api.postAs("ann", "lobby", "a2", "again"))).isEqualTo("banned");
            succeeds(room(admin, "unban", "lobby", "guest:ann"), "unbanned guest:ann in lobby");
            assertThat(api.postAs("ann", "lobby", "a3", "back").statusCode()).isEqualTo(200);
            succeeds(room(admin, "unban", "lobby", "guest:ann"), "guest:ann was not banned in lobby");

            Run timedOut = room(admin, "timeout", "lobby", "guest:ann", "600");
            assertThat(timedOut.exit()).as(timedOut.err()).isZero();
            assertThat(timedOut.out()).startsWith("timed out guest:ann in lobby until 20");
            assertThat(refusal(api.postAs("ann", "lobby", "a4", "quiet?"))).isEqualTo("timed_out");
            succeeds(room(admin, "timeout", "lobby", "guest:ann", "0"), "lifted the timeout of guest:ann in lobby");
            assertThat(api.postAs("ann", "lobby", "a5", "talking").statusCode()).isEqualTo(200);

            succeeds(room(admin, "slow", "lobby", "600"), "slow mode in lobby: one message per user every 600 s");
            assertThat(api.postAs("bea", "lobby", "b1", "first").statusCode()).isEqualTo(200);
            assertThat(refusal(api.postAs("bea", "lobby", "b2", "too soon"))).isEqualTo("slow_mode");
            succeeds(room(admin, "slow", "lobby", "0"), "slow mode off in lobby");
            assertThat(api.postAs("bea", "lobby", "b3", "now").statusCode()).isEqualTo(200);
        }
    }

    @Test
    void aUserIdIsPercentEncodedInThePath() {
        // A token's subject may hold a space, '#' or '?': the unban finds the ban the body named.
        String odd = "sub with space#1?x=ä";
        succeeds(room(admin, "ban", "lobby", odd), "banned " + odd + " from lobby");
        succeeds(room(admin, "unban", "lobby", odd), "unbanned " + odd + " in lobby");
        // ... or a '/' (auth0|x/y): sent as %2F, it must stay one piece of the path, not two.
        String slashed = "sub/with/slash";
        succeeds(room(admin, "ban", "lobby", slashed), "banned " + slashed + " from lobby");
        succeeds(room(admin, "unban", "lobby", slashed), "unbanned " + slashed + " in lobby");
    }

    @Test
    void theAuditIsOneLinePerEntryAsTheServerKeepsIt() {
        try (ApiClient api = api()) {
            assertThat(api.postAs("ann", "lobby", "a1", "hello").statusCode()).isEqualTo(200);
            room(admin, "delete", "lobby", "1");
            room(admin, "ban", "lobby", "guest:ann");
            room(admin, "timeout", "lobby", "guest:bea", "60");
            room(admin, "slow", "lobby", "5");

            JsonNode entries = ApiClient.json(api.get("/api/rooms/lobby/audit", "Authorization", "Bearer " + admin))
                    .path("entries");
            List<String> expected = new ArrayList<>();
            for (JsonNode e : entries) {
                String line = java.time.Instant.ofEpochMilli(e.path("at").asLong())
                        .truncatedTo(java.time.temporal.ChronoUnit.SECONDS) + "\t" + e.path("by").asText() + "\t"
                        + e.path("action").asText() + "\t" + e.path("target").asText();
                expected.add(e.path("detail").asText().isEmpty() ? line : line + "\t" + e.path("detail").asText());
            }
            assertThat(expected).hasSize(4);
            assertThat(expected.get(0)).endsWith("\tops\tslow\t\t5 s");
            assertThat(expected.get(3)).endsWith("\tops\tdelete\t1");

            Run all = room(admin, "audit", "lobby");
            assertThat(all.exit()).as(all.err()).isZero();
            assertThat(all.out().lines().toList()).isEqualTo(expected);

            Run first = room(admin, "audit", "lobby", "--limit", "2");
            assertThat(first.out().lines().toList()).isEqualTo(expected.subList(0, 2));
            assertThat(first.err()).startsWith("older entries: --before ");
            String cursor = first.err().strip().substring("older entries: --before ".length());
            Run rest = room(admin, "audit", "lobby", "--limit", "2", "--before", cursor);
            assertThat(rest.out().lines().toList()).isEqualTo(expected.subList(2, 4));
        }
    }

    @Test
    void aTokenThatMayNotModerateIsRefusedForbidden() {
        String nobody = new Tokens(SECRET).mint("bob", "bob", List.of(), Duration.ofHours(1));
        try (ApiClient api = api()) {
            assertThat(api.postAs("ann", "lobby", "a1", "hello").statusCode()).isEqualTo(200);
        }
        List<List<String>> requests = List.of(List.of("delete", "lobby", "1"), List.of("clear", "lobby", "--up-to", "1"),
                List.of("ban", "lobby", "guest:ann"), List.of("unban", "lobby", "guest:ann"),
                List.of("timeout", "lobby", "guest:ann", "60"), List.of("slow", "lobby", "5"), List.of("audit", "lobby"));
        for (List<String> request : requests) {
            Run refused = room(nobody, request.toArray(String[]::new));
            assertThat(refused.exit()).as(request.toString()).isEqualTo(1);
            assertThat(refused.err()).as(request.toString()).startsWith("forbidden: ");
            assertThat(refused.out()).isEmpty();
        }
        // Nothing got through: the message is whole and the audit log is empty.
        try (ApiClient api = api()) {
            assertThat(ApiClient.json(api.get("/api/rooms/lobby/messages")).path("messages").get(0).path("text").asText())
                    .isEqualTo("hello");
        }
        assertThat(room(admin, "audit", "lobby").out()).isEmpty();
    }

    @Test
    void badUsageExitsWithTwoAndAsksNothing() {
        assertThat(room(admin, "timeout", "lobby", "guest:ann", "soon").exit()).isEqualTo(2);
        assertThat(room(admin, "clear", "lobby").exit()).isEqualTo(2);
        assertThat(room(admin, "delete", "lobby").exit()).isEqualTo(2);
        assertThat(room(admin, "audit", "lobby", "--limit", "many").exit()).isEqualTo(2);
        assertThat(room(admin, "audit", "lobby").out()).isEmpty();
        Run help = room(admin, "--help");
        assertThat(help.out()).contains("ban ", "unban ", "timeout ", "slow ", "audit ", "clear ", "delete ",
                "Exit status");
    }
}
