package io.parley.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.parley.auth.Tokens;
import io.parley.config.ServerConfig.Access;
import io.parley.testing.TestServer;
import io.parley.testing.WsClient;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.Writer;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code parley chat} as a person uses it: a real process, its standard input and output, a real server. */
class ChatCommandTest {

    private static final long TIMEOUT_SECONDS = 10;

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
            bob.expect("presence", m -> m.path("joined").toString().contains("ada"));

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
        int port;
        ChatProcess ada;
        try (TestServer server = TestServer.start(dataDir);
             WsClient bob = WsClient.hello(server.chatUri(), "bob")) {
            port = server.port();
            bob.join("lobby");
            ada = start(server.chatUri(), "lobby", "ada");
            bob.expect("presence", m -> m.path("joined").toString().contains("ada"));
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
        // Expires in 2 s; the server allows 5 s more for clock skew, then closes the connection (1008).
        Files.writeString(tokenFile, tokens.mint("u-ada", "Ada", List.of(), Duration.ofSeconds(2)));
        try (TestServer server = TestServer.start(dataDir.resolve("server"),
                c -> c.withAccess(Access.defaults().withTokenSecret(secret)));
             WsClient bob = WsClient.hello(server.chatUri(), "bob")) {
            bob.join("lobby");
            long started = System.nanoTime();
            ChatProcess ada = start(server.chatUri(), "lobby", "ignored", "--token-file", tokenFile.toString());
            bob.expect("presence", m -> m.path("joined").toString().contains("Ada"));

            // What a login script or a sidecar does: put a fresh token in place, atomically.
            Path next = dataDir.resolve("token.next");
            Files.writeString(next, tokens.mint("u-ada", "Ada", List.of(), Duration.ofHours(1)));
            Files.move(next, tokenFile, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);

            // Past the first token's end (7 s after it was minted) with a second to spare.
            long left = TimeUnit.SECONDS.toNanos(8) - (System.nanoTime() - started);
            TimeUnit.NANOSECONDS.sleep(Math.max(0, left));
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

    /** A {@code parley chat} child process; its standard output is read line by line as it comes. */
    private static final class ChatProcess {

        private final Process process;
        private final Writer stdin;
        private final BlockingQueue<String> stdout = new LinkedBlockingQueue<>();
        private final Thread reader;

        ChatProcess(Process process) {
            this.process = process;
            this.stdin = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
            this.reader = Thread.ofPlatform().daemon().start(() -> {
                try (BufferedReader lines = process.inputReader(StandardCharsets.UTF_8)) {
                    for (String line; (line = lines.readLine()) != null; ) {
                        stdout.add(line);
                    }
                } catch (IOException e) {
                    // The process ended; the test's own timeouts report what is missing.
                }
            });
        }

        void type(String line) throws IOException {
            stdin.write(line + "\n");
            stdin.flush();
        }

        String nextLineContaining(String text) throws InterruptedException {
            return linesUntil(text).getLast();
        }

        /** Every line up to and including the first that contains {@code text}. */
        List<String> linesUntil(String text) throws InterruptedException {
            List<String> lines = new ArrayList<>();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(TIMEOUT_SECONDS);
            while (System.nanoTime() < deadline) {
                String line = stdout.poll(deadline - System.nanoTime(), TimeUnit.NANOSECONDS);
                if (line == null) {
                    break;
                }
                lines.add(line);
                if (line.contains(text)) {
                    return lines;
                }
            }
            throw new AssertionError("no line containing '" + text + "' within " + TIMEOUT_SECONDS
                    + " s; got " + lines);
        }

        int endInputAndWait() throws IOException, InterruptedException {
            stdin.close();
            assertThat(process.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)).as("chat exited").isTrue();
            return process.exitValue();
        }

        /** After the process has ended: every line not taken yet. */
        List<String> remainingLines() throws InterruptedException {
            reader.join(TimeUnit.SECONDS.toMillis(TIMEOUT_SECONDS));
            List<String> lines = new ArrayList<>();
            stdout.drainTo(lines);
            return lines;
        }

        void kill() {
            process.destroyForcibly();
        }
    }
}
