package io.parley.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.parley.testing.ApiClient;
import io.parley.testing.TestServer;
import io.parley.testing.WsClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code parley user ...}, run as a child process the way an operator runs it, on the data directory of
 * a server that is running: the password comes from standard input (no terminal), and what the command
 * changes takes effect in the running server.
 */
class UserCommandTest {

    @TempDir
    Path dir;
    private TestServer server;
    private ApiClient api;

    @BeforeEach
    void start() throws Exception {
        server = TestServer.start(dir);
        api = new ApiClient(server.port());
    }

    @AfterEach
    void stop() {
        api.close();
        server.close();
    }

    record Run(int exit, String out, String err) { }

    /** Runs {@code parley user ARGS --data-dir DIR} with {@code stdin} as its standard input. */
    private Run user(String stdin, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), ParleyCommand.class.getName(), "user"));
        command.addAll(List.of(args));
        command.addAll(List.of("--data-dir", dir.toString()));
        Process p = new ProcessBuilder(command).start();
        try (OutputStream in = p.getOutputStream()) {
            in.write(stdin.getBytes(StandardCharsets.UTF_8));
        }
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("parley user " + String.join(" ", args) + " ended").isTrue();
        return new Run(p.exitValue(), new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8),
                new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8));
    }

    private HttpResponse<String> signIn(String name, String password) {
        return api.send(api.request("/api/session", "Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(WsClient.JSON.valueToTree(
                        Map.of("name", name, "password", password)).toString())).build());
    }

    private String guestHello(String name) {
        try (WsClient c = WsClient.connect(server.chatUri())) {
            c.send(Map.of("type", "hello", "name", name));
            JsonNode reply = c.take(1, m -> m.path("type").asText().matches("welcome|error")).getFirst();
            return reply.path("type").asText().equals("welcome") ? "welcome" : reply.path("code").asText();
        }
    }

    @Test
    void anAccountAddedWhileTheServerRunsSignsInAndItsNameIsClosedToGuestsWithinTheRefresh() throws Exception {
        assertThat(guestHello("ivan")).isEqualTo("welcome");

        Run added = user("correct horse\n", "add", "Ivan");

        assertThat(added.exit()).as(added.err()).isZero();
        assertThat(added.out()).contains("added Ivan (account:");
        assertThat(added.out() + added.err()).doesNotContain("correct horse");
        HttpResponse<String> signedIn = signIn("Ivan", "correct horse");
        assertThat(signedIn.statusCode()).as(signedIn.body()).isEqualTo(200);
        long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
        String answer = guestHello("ivan");
        while (!answer.equals("invalid_name") && System.nanoTime() < deadline) {
            Thread.sleep(100);
            answer = guestHello("ivan");
        }
        assertThat(answer).as("a guest named like the new account").isEqualTo("invalid_name");
    }

    @Test
    void rolesGoIntoTheTokenAndListShowsThem() throws Exception {
        assertThat(user("correct horse\n", "add", "judy").exit()).isZero();

        Run role = user("", "role", "JUDY", "admin");
        assertThat(role.exit()).as(role.err()).isZero();
        assertThat(ApiClient.json(signIn("judy", "correct horse")).path("roles").toString()).isEqualTo("[\"admin\"]");
        Run list = user("", "list");
        assertThat(list.out()).containsPattern("judy\taccount:[0-9a-f]{20}\tadmin\t20");

        assertThat(user("", "role", "judy", "admin", "--remove").exit()).isZero();
        assertThat(ApiClient.json(signIn("judy", "correct horse")).path("roles").toString()).isEqualTo("[]");
    }

    @Test
    void passwdAndRemoveEndTheAccountsSessions() throws Exception {
        assertThat(user("correct horse\n", "add", "kim").exit()).isZero();
        HttpResponse<String> first = signIn("kim", "correct horse");
        String cookie = first.headers().firstValue("Set-Cookie").orElseThrow().split(";")[0];

        Run passwd = user("battery staple\n", "passwd", "kim");
        assertThat(passwd.exit()).as(passwd.err()).isZero();
        assertThat(passwd.out()).contains("1 session(s) ended");
        assertThat(tokenFor(cookie)).as("the session before the change").isEqualTo(401);
        assertThat(signIn("kim", "correct horse").statusCode()).isEqualTo(401);
        HttpResponse<String> second = signIn("kim", "battery staple");
        assertThat(second.statusCode()).isEqualTo(200);
        String cookie2 = second.headers().firstValue("Set-Cookie").orElseThrow().split(";")[0];

        Run removed = user("", "remove", "kim");
        assertThat(removed.exit()).as(removed.err()).isZero();
        assertThat(tokenFor(cookie2)).isEqualTo(401);
        assertThat(signIn("kim", "battery staple").statusCode()).isEqualTo(401);
        assertThat(user("", "list").out()).doesNotContain("kim");
    }

    private int tokenFor(String cookie) {
        return api.send(api.request("/api/session/token", "Cookie", cookie)
                .POST(HttpRequest.BodyPublishers.noBody()).build()).statusCode();
    }

    @Test
    void refusalsSayWhyAndChangeNothing() throws Exception {
        assertThat(user("correct horse\n", "add", "Leo").exit()).isZero();

        Run weak = user("short\n", "add", "mia");
        assertThat(weak.exit()).isEqualTo(1);
        assertThat(weak.err()).contains("8-1024 characters");
        Run lookalike = user("correct horse\n", "add", "LEO");
        assertThat(lookalike.exit()).isEqualTo(1);
        assertThat(lookalike.err()).contains("looks like");
        Run noInput = user("", "add", "nina");
        assertThat(noInput.exit()).isEqualTo(1);
        assertThat(noInput.err()).contains("no password");
        Run unknown = user("", "role", "nobody", "admin");
        assertThat(unknown.exit()).isEqualTo(1);
        assertThat(unknown.err()).contains("no account is named 'nobody'");
        assertThat(user("", "list").out().lines()).hasSize(1);
    }
}
