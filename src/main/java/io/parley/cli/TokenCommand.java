package io.parley.cli;

import io.parley.auth.Tokens;
import io.parley.config.ServerConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code parley token}: mints a signed token for a user, for testing and for small deployments whose
 * backend has no JWT library at hand. The token goes to standard output alone, so that
 * {@code TOKEN=$(parley token ...)} works.
 */
@Command(name = "token",
        mixinStandardHelpOptions = true,
        description = {"Mint a token (JWT, HS256) that a server with the same --token-secret accepts.",
                "Browsers pass it as ?token=... on /chat; programs as 'Authorization: Bearer ...'."})
final class TokenCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--user", required = true, paramLabel = "ID",
            description = "The user's stable id (the token's sub); messages are attributed to it.")
    String user;

    @Option(names = "--name", required = true, paramLabel = "NAME", description = "Display name, 1-32 characters.")
    String name;

    @Option(names = "--roles", split = ",", paramLabel = "ROLE", description = "Roles, comma-separated.")
    List<String> roles = new ArrayList<>();

    @Option(names = "--room", paramLabel = "ROOM=ROLE",
            description = "A room the token grants, and the role in it (member, moderator, owner); repeatable.")
    Map<String, String> rooms = new LinkedHashMap<>();

    @Option(names = "--secret", defaultValue = "${env:PARLEY_TOKEN_SECRET}", paramLabel = "SECRET",
            description = "The server's token secret, at least 32 bytes (default: env PARLEY_TOKEN_SECRET).")
    String secret;

    @Option(names = "--ttl", defaultValue = "1h", paramLabel = "DURATION",
            description = "How long the token is valid: 90s, 15m, 1h, 7d (default: ${DEFAULT-VALUE}).")
    String ttl;

    @Override
    public Integer call() {
        if (secret == null || secret.getBytes(StandardCharsets.UTF_8).length < ServerConfig.Access.MIN_SECRET_BYTES) {
            throw new ParameterException(spec.commandLine(), "--secret (or PARLEY_TOKEN_SECRET) must be at least "
                    + ServerConfig.Access.MIN_SECRET_BYTES + " bytes");
        }
        Duration validity = parse(ttl);
        try {
            spec.commandLine().getOut().println(new Tokens(secret).mint(user, name, roles, rooms, validity));
        } catch (Tokens.InvalidTokenException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
        return 0;
    }

    private Duration parse(String text) {
        String t = text.trim().toLowerCase();
        try {
            if (t.endsWith("d")) {
                return positive(Duration.ofDays(Long.parseLong(t.substring(0, t.length() - 1))));
            }
            return positive(Duration.parse("PT" + t));
        } catch (NumberFormatException | DateTimeParseException | ArithmeticException e) {
            throw new ParameterException(spec.commandLine(), "--ttl must look like 90s, 15m, 1h or 7d, was " + text);
        }
    }

    private Duration positive(Duration d) {
        if (d.isNegative() || d.isZero()) {
            throw new ParameterException(spec.commandLine(), "--ttl must be positive");
        }
        return d;
    }
}
