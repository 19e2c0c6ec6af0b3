package io.parley.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.parley.auth.Tokens;
import io.parley.config.ServerConfig.Access;
import io.parley.testing.TestServer;
import io.parley.testing.WsClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
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
}
