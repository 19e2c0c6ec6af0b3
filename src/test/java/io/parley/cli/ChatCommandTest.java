package io.parley.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.auth0.jwt.JWT;
import com.fasterxml.jackson.databind.JsonNode;
import io.parley.auth.Tokens;
import io.parley.config.ServerConfig.Access;
import io.parley.testing.ChatProcess;
import io.parley.testing.FreePorts;
import io.parley.testing.TestServer;
import io.parley.testing.WsClient;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code parley chat} as a person uses it: a real process, its standard input and output, a real server. */
class ChatCommandTest {

    /** A bound on waits that include a child JVM's start, which takes several seconds on a loaded machine. */
    private static final long TIMEOUT_SECONDS = 30;
    /**
     * Token time left when the client joins that lets it refresh fairly: it reads the file again with
     * a quarter of that left, over half a second for a loaded machine to deliver the refresh.
     */
    private static final Duration REFRESH_MARGIN = Duration.ofMillis(2500);

    @TempDir
    Path dataDir;

    private final List<ChatProcess> processes = new ArrayList<>();

    @AfterEach
    void stopProcesses() {
        processes.forEach(ChatProcess::kill);
    }

    @Test
    void exchangesMessagesWithAnotherClientInTheRoomBothWays() throws Exception {
        try (TestServer server = TestServer.start(dataDir);
             WsClient bob = WsClient.hello(server.chatUri(), "bob")) {
            bob.join("lobby");
            ChatProcess ada = start(server.chatUri(), "lobby", "ada");
            assertThat(ada.joinedAsSeenBy(bob, "ada", Duration.ofSeconds(TIMEOUT_SECONDS))).as("ada joined").isTrue();

            bob.say("lobby", "b1", "hi ada");
            assertThat(ada.nextLineContaining("bob: hi ada")).matches("#\\d+ \\[\\d\\d:\\d\\d] bob: hi ada");

            ada.type("hello bob");
            assertThat(bob.expect("message", m -> m.path("from").asText().equals("ada")).path("text").asText())
                    .isEqualTo("hello bob");
            assertThat(ada.nextLineContaining("ada: hello bob")).isNotNull();

            assertThat(ada.endInputAndWait()).isZero();
        }
    }

    @Test
    void printsTheRoomsRecentHistoryOnJoining() throws Exception {
        try (TestServer server = TestServer.start(dataDir);
             WsClient bob = WsClient.hello(server.chatUri(), "bob")) {
            bob.join("lobby");
            bob.say("lobby", "b1", "before you came");
            bob.expect("ack");

            ChatProcess ada = start(server.chatUri(), "lobby", "ada");

            assertThat(ada.nextLineContaining("before you came")).startsWith("#1 ");
            assertThat(ada.endInputAndWait()).isZero();
        }
    }

    @Test
    void reconnectsAfterTheServerRestartsAndSendsWhatWasTypedMeanwhileWithoutRepeatingAnything()
            throws Exception {
        // Below the ephemeral range, so no client socket can hold the port while the server is down.
        int port = FreePorts.belowEphemeralRange();
        ChatProcess ada;
        try (TestServer server = TestServer.start(dataDir, c -> c.withPort(port));
             WsClient bob = WsClient.hello(server.chatUri(), "bob")) {
            bob.join("lobby");
            ada = start(server.chatUri(), "lobby", "ada");
            assertThat(ada.joinedAsSeenBy(bob, "ada", Duration.ofSeconds(TIMEOUT_SECONDS))).as("ada joined").isTrue();
            bob.say("lobby", "b1", "before the restart");
            ada.nextLineContaining("before the restart");
        }
        ada.type("typed while the server was down");
        try (TestServer server = TestServer.start(dataDir, c -> c.withPort(port));
             WsClient bob = WsClient.hello(server.chatUri(), "bob")) {
            bob.join("lobby");
            bob.say("lobby", "b2", "after the restart");
            List<String> lines = new ArrayList<>(ada.linesUntil("after the restart"));

            assertThat(ada.endInputAndWait()).isZero();
            lines.addAll(ada.remainingLines());
            assertThat(lines).noneMatch(line -> line.contains("before the restart"))
                    .filteredOn(line -> line.contains("ada: typed while the server was down")).hasSize(1);
        }
    }

    @Test
    void aTokenFileRotatedBeforeTheTokenExpiresKeepsTheSessionWithoutAReconnect() throws Exception {
        String secret = "a-token-secret-for-the-chat-command-test";
        Tokens tokens = new Tokens(secret);
        Path tokenFile = dataDir.resolve("token");
        // No clock leeway: the connection is closed (1008) at the first token's exp unless refreshed. No
        // presence grace: a dropped attempt's Ada must be seen to leave, and the next one to join.
        try (TestServer server = TestServer.start(dataDir.resolve("server"),
                c -> c.withAccess(Access.defaults().withTokenSecret(secret).withTokenLeeway(Duration.ZERO))
                        .withPresenceGrace(Duration.ZERO));
             WsClient bob = WsClient.hello(server.chatUri(), "bob")) {
            bob.join("lobby");
            // The first token must outlast the child JVM's start (under a second here, over seven on a
            // loaded machine) and then leave the client time to refresh, which it does three quarters
            // of the way to the end. A short life keeps the test short; if Ada joined too late for a
            // fair refresh, the attempt is dropped and made again with a longer one.
            Duration life = Duration.ofSeconds(6);
            ChatProcess ada = null;
            Instant firstEnd = null;
            for (int attempt = 1; ada == null; attempt++) {
                String first = tokens.mint("u-ada", "Ada", List.of(), life);
                firstEnd = JWT.decode(first).getExpiresAtAsInstant();
                Files.writeString(tokenFile, first);
                long startedAt = System.nanoTime();
                ChatProcess started = start(server.chatUri(), "lobby", "ignored", "--token-file", tokenFile.toString());
                boolean joined = started.joinedAsSeenBy(bob, "Ada", life.plusSeconds(TIMEOUT_SECONDS));
                Duration took = Duration.ofNanos(System.nanoTime() - startedAt);
                Duration left = Duration.between(Instant.now(), firstEnd);
                System.out.printf("attempt %d: a token for %s; joined %s after %d ms with %d ms left%n",
                        attempt, life, joined, took.toMillis(), left.toMillis());
                if (joined && left.compareTo(REFRESH_MARGIN) >= 0) {
                    ada = started;
                } else {
                    assertThat(attempt).as("attempts to join with " + REFRESH_MARGIN + " of the first token left")
                            .isLessThan(3);
                    started.kill();
                    if (joined) {
                        bob.expect("presence", m -> m.path("left").toString().contains("Ada"));
                    }
                    // Enough for a start twice as slow as this one.
                    life = took.multipliedBy(2).plus(REFRESH_MARGIN).plusSeconds(1);
                }
            }

            // What a login script or a sidecar does: put a fresh token in place, atomically.
            Path next = dataDir.resolve("token.next");
            Files.writeString(next, tokens.mint("u-ada", "Ada", List.of(), Duration.ofHours(1)));
            Files.move(next, tokenFile, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);

            // Past the first token's end: that moment is what the test waits for.
            Instant past = firstEnd.plusMillis(300);
            while (Instant.now().isBefore(past)) {
                Thread.sleep(Math.max(1, Duration.between(Instant.now(), past).toMillis()));
            }
            ada.type("still the same connection");
            // Everything bob saw since Ada joined: had her connection ended, her leaving would be there.
            List<JsonNode> seen = bob.everythingUntil(x -> x.path("text").asText().equals("still the same connection"));
            assertThat(seen.getLast().path("user").asText()).isEqualTo("u-ada");
            assertThat(seen).as("what bob saw").noneMatch(
                    x -> x.path("type").asText().equals("presence") && x.path("left").toString().contains("Ada"));
            assertThat(ada.endInputAndWait()).isZero();
        }
    }

    @Test
    void failsWithAClearMessageWhenTheServerCannotBeReached() throws Exception {
        int closedPort;
        try (ServerSocket socket = new ServerSocket(0)) {
            closedPort = socket.getLocalPort();
        }
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();

        int exit = ParleyCommand.commandLine()
                .setOut(new PrintWriter(out))
                .setErr(new PrintWriter(err))
                .execute("chat", "--url", "ws://127.0.0.1:" + closedPort + "/chat", "--name", "ada");

        assertThat(exit).isEqualTo(1);
        assertThat(err.toString()).contains("connection refused");
        assertThat(out.toString()).isEmpty();
    }

    private ChatProcess start(URI url, String room, String name, String... more) throws IOException {
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"),
                ParleyCommand.class.getName(), "chat",
                "--url", url.toString(), "--room", room, "--name", name));
        command.addAll(List.of(more));
        ChatProcess process = new ChatProcess(new ProcessBuilder(command)
                .redirectError(ProcessBuilder.Redirect.INHERIT)
                .start());
        processes.add(process);
        return process;
    }
}
