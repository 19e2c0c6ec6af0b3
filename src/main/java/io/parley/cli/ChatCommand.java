package io.parley.cli;

import io.parley.client.ChatClient;
import io.parley.client.Transcript;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.time.ZoneId;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code parley chat}: a terminal chat client. Standard output carries the transcript and nothing
 * else (messages, presence, errors; see {@link Transcript}), standard error the client's own
 * diagnostics, so the output can be piped or read by a test line by line.
 *
 * <p>The main thread reads standard input; everything arriving from the server is printed by the
 * connection's threads through {@link ChatClient}.
 */
@Command(name = "chat",
        mixinStandardHelpOptions = true,
        description = {"Join a room and chat: each line read from standard input is sent to the room, "
                + "and the room's messages are printed as they arrive.",
                "At end of input, waits briefly for the server to confirm what was sent, then leaves."},
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:left normally at end of input",
                "1:could not connect, the server refused the name or the room, or standard input failed",
                "2:invalid options"})
public final class ChatCommand implements Callable<Integer> {

    /** How long to wait at end of input for the server to confirm the last lines sent. */
    private static final Duration CONFIRM_GRACE = Duration.ofSeconds(2);

    @Spec
    CommandSpec spec;

    @Mixin
    ServerUrl server;

    @Option(names = "--room", paramLabel = "ROOM",
            defaultValue = "${env:PARLEY_ROOM:-lobby}",
            description = "Room to join, env PARLEY_ROOM (default: ${DEFAULT-VALUE}).")
    String room;

    @Option(names = "--name", paramLabel = "NAME",
            defaultValue = "${env:PARLEY_NAME:-${sys:user.name}}",
            description = "Name shown to others, env PARLEY_NAME (default: ${DEFAULT-VALUE}).")
    String name;

    @Option(names = "--token", paramLabel = "TOKEN", defaultValue = "${env:PARLEY_TOKEN}",
            description = "Chat as the user this token names (see parley token), env PARLEY_TOKEN; "
                    + "without one you are a guest called --name.")
    String token;

    @Option(names = "--token-file", paramLabel = "FILE", defaultValue = "${env:PARLEY_TOKEN_FILE}",
            description = "Read the token from this file, env PARLEY_TOKEN_FILE, and again before it expires: "
                    + "whatever rotates the file keeps the session going (sent with refresh, no reconnect).")
    Path tokenFile;

    @Override
    public Integer call() throws InterruptedException {
        URI url = server.get();
        PrintWriter err = spec.commandLine().getErr();
        Transcript transcript = new Transcript(spec.commandLine().getOut(), ZoneId.systemDefault());
        boolean hasToken = token != null && !token.isBlank();
        if (hasToken && tokenFile != null) {
            throw new ParameterException(spec.commandLine(), "give --token or --token-file, not both");
        }
        ChatClient client;
        try {
            client = tokenFile != null
                    ? ChatClient.joinWithTokenFile(url, room, name, tokenFile, transcript, err)
                    : ChatClient.join(url, room, name, hasToken ? token : null, transcript, err);
        } catch (IOException e) {
            err.println("parley chat: " + e.getMessage());
            err.flush();
            return 1;
        }
        try (client) {
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
            for (String line; (line = in.readLine()) != null; ) {
                if (!line.isBlank()) {
                    client.send(line);
                }
            }
            client.finish(CONFIRM_GRACE);
            return 0;
        } catch (IOException e) {
            err.println("parley chat: cannot read standard input: " + e.getMessage());
            err.flush();
            return 1;
        }
    }
}
