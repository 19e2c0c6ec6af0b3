package io.parley.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.concurrent.Callable;

/**
 * {@code parley room ...}: rooms and their roles on a running server, through its HTTP API
 * (docs/PROTOCOL.md, "Rooms and roles") with a token, normally an admin's. Unlike {@code parley user}
 * it does not open the database: the server checks who may do what, and tells the other nodes.
 * Prints the server's JSON answer (the moderation subcommands a line for people, the audit one line per
 * entry); a refusal prints its code and message and exits with 1, bad usage exits with 2 (picocli's).
 * Runs on the caller's thread, one blocking request per command.
 */
@Command(name = "room", mixinStandardHelpOptions = true,
        description = "Create, administer and moderate rooms on a running server (its HTTP API, with a token).",
        footer = {"", "Moderation (delete, clear, ban, unban, timeout, slow, audit) needs a token of an admin or of the"
                + " room's owner or a moderator, e.g.:",
                "  export PARLEY_TOKEN=$(parley token --roles admin --user ops ...)",
                "  parley room ban lobby guest:troll",
                "  parley room timeout lobby account:12 600",
                "  parley room audit lobby --limit 20",
                "Exit status: 0 done, 1 refused by the server (its code: message on stderr) or unreachable,"
                        + " 2 bad usage."},
        subcommands = {RoomCommand.ListRooms.class, RoomCommand.Show.class, RoomCommand.Create.class,
                RoomCommand.Set.class, RoomCommand.Grant.class, RoomCommand.Revoke.class,
                RoomCommand.Delete.class, RoomCommand.Clear.class, RoomCommand.Ban.class, RoomCommand.Unban.class,
                RoomCommand.Timeout.class, RoomCommand.Slow.class, RoomCommand.Audit.class})
final class RoomCommand implements Runnable {

    private static final ObjectMapper JSON = new ObjectMapper();

    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** Which server, as whom. */
    static final class Server {
        @Option(names = "--url", defaultValue = "${env:PARLEY_URL:-http://127.0.0.1:8080}",
                description = "The server's address, http(s)://host:port (env PARLEY_URL).")
        URI url;

        @Option(names = "--token", defaultValue = "${env:PARLEY_TOKEN}", arity = "1",
                description = "The token to act with, e.g. from 'parley token --roles admin' (env PARLEY_TOKEN,"
                        + " preferred: a flag shows in ps).")
        String token;
    }

    /** A room's settings; what is not given is the default (create) or stays (set). */
    static final class Settings {
        @Option(names = "--kind", description = "public (the default of a new room) or private.")
        String kind;

        @Option(names = "--write", description = "Who may write in a public room: everyone (the default of a new"
                + " room), signed_in or members.")
        String write;

        ObjectNode into(ObjectNode json) {
            if (kind != null) {
                json.put("kind", kind);
            }
            if (write != null) {
                json.put("write", write);
            }
            return json;
        }
    }

    /** One request to the server, its answer printed. */
    abstract static class Call implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Mixin
        Server server;

        abstract HttpRequest.Builder request(String base);

        @Override
        public Integer call() throws IOException, InterruptedException {
            String base = server.url.toString().replaceAll("/+$", "") + "/api/rooms";
            HttpRequest.Builder b = request(base).timeout(Duration.ofSeconds(30));
            if (server.token != null && !server.token.isBlank()) {
                b.header("Authorization", "Bearer " + server.token);
            }
            HttpResponse<String> r;
            try (HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build()) {
                r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
            } catch (IOException e) {
                spec.commandLine().getErr().println("cannot reach " + server.url + ": " + e.getMessage());
                return 1;
            }
            if (r.statusCode() == 200) {
                print(spec.commandLine().getOut(), r.body());
                return 0;
            }
            String code = "http_" + r.statusCode();
            String message = r.body();
            try {
                JsonNode error = JSON.readTree(r.body());
                code = error.path("code").asText(code);
                message = error.path("message").asText(message);
            } catch (IOException e) {
                // Not the API's JSON (a proxy's page): shown as it came.
            }
            spec.commandLine().getErr().println(code + ": " + message);
            return 1;
        }

        /** Shows a successful answer: as the server sent it, unless a subcommand says it for people. */
        void print(PrintWriter out, String body) throws IOException {
            out.println(body);
        }

        static String segment(String s) {
            return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
        }

        /** A request with a JSON body. */
        static HttpRequest.Builder json(String uri, String method, ObjectNode body) {
            return HttpRequest.newBuilder(URI.create(uri)).header("Content-Type", "application/json")
                    .method(method, HttpRequest.BodyPublishers.ofString(body.toString()));
        }
    }

    @Command(name = "list", description = "The rooms the token may see.")
    static final class ListRooms extends Call {
        @Override
        HttpRequest.Builder request(String base) {
            return HttpRequest.newBuilder(URI.create(base)).GET();
        }
    }

    @Command(name = "show", description = "A room's settings, and its people for those who may moderate it.")
    static final class Show extends Call {
        @Parameters(index = "0", paramLabel = "ROOM")
        String room;

        @Override
        HttpRequest.Builder request(String base) {
            return HttpRequest.newBuilder(URI.create(base + "/" + segment(room))).GET();
        }
    }

    @Command(name = "create", description = "Create a room, owned by the token's user.")
    static final class Create extends Call {
        @Parameters(index = "0", paramLabel = "ROOM")
        String room;

        @Mixin
        Settings settings;

        @Override
        HttpRequest.Builder request(String base) {
            return json(base, "POST", settings.into(JSON.createObjectNode().put("room", room)));
        }
    }

    @Command(name = "set", description = "Change a room's settings; what is not given stays.")
    static final class Set extends Call {
        @Parameters(index = "0", paramLabel = "ROOM")
        String room;

        @Mixin
        Settings settings;

        @Override
        HttpRequest.Builder request(String base) {
            return json(base + "/" + segment(room), "PATCH", settings.into(JSON.createObjectNode()));
        }
    }

    @Command(name = "grant", description = "Give a user id (account:..., a token's sub) a role in a room.")
    static final class Grant extends Call {
        @Parameters(index = "0", paramLabel = "ROOM")
        String room;

        @Parameters(index = "1", paramLabel = "USER")
        String user;

        @Parameters(index = "2", paramLabel = "ROLE", description = "owner, moderator or member.")
        String role;

        @Override
        HttpRequest.Builder request(String base) {
            return json(base + "/" + segment(room) + "/roles/" + segment(user), "POST",
                    JSON.createObjectNode().put("role", role));
        }
    }

    @Command(name = "revoke", description = "Take a user's role in a room away (it leaves a private room at once).")
    static final class Revoke extends Call {
        @Parameters(index = "0", paramLabel = "ROOM")
        String room;

        @Parameters(index = "1", paramLabel = "USER")
        String user;

        @Override
        HttpRequest.Builder request(String base) {
            return HttpRequest.newBuilder(URI.create(base + "/" + segment(room) + "/roles/" + segment(user))).DELETE();
        }
    }

    /**
     * A moderation request about one room (docs/PROTOCOL.md, "Moderation"), the answer said in one line.
     * The server decides who may moderate; a refusal is {@link Call}'s.
     */
    abstract static class Moderation extends Call {
        @Parameters(index = "0", paramLabel = "ROOM")
        String room;

        /** {@code /api/rooms/{room}} plus {@code rest}. */
        String roomUri(String base, String rest) {
            return base + "/" + segment(room) + rest;
        }

        abstract String describe(JsonNode answer);

        @Override
        void print(PrintWriter out, String body) throws IOException {
            out.println(describe(JSON.readTree(body)));
        }

        /** A time the server sent (ms since the epoch) in UTC, to the second. */
        static String time(JsonNode millis) {
            return Instant.ofEpochMilli(millis.asLong()).truncatedTo(ChronoUnit.SECONDS).toString();
        }
    }

    @Command(name = "delete", description = "Delete a message; history keeps a tombstone (who, when).")
    static final class Delete extends Moderation {
        @Parameters(index = "1", paramLabel = "SEQ", description = "The message's seq in the room.")
        long seq;

        @Override
        HttpRequest.Builder request(String base) {
            return HttpRequest.newBuilder(URI.create(roomUri(base, "/messages/" + seq))).DELETE();
        }

        @Override
        String describe(JsonNode answer) {
            return "deleted message " + answer.path("seq").asLong() + " of " + room;
        }
    }

    @Command(name = "clear", description = "Delete every message of a room up to a seq that is not deleted yet.")
    static final class Clear extends Moderation {
        @Option(names = "--up-to", required = true, paramLabel = "SEQ", description = "The last seq to delete.")
        long upTo;

        @Override
        HttpRequest.Builder request(String base) {
            return json(roomUri(base, "/clear"), "POST", JSON.createObjectNode().put("upTo", upTo));
        }

        @Override
        String describe(JsonNode answer) {
            long count = answer.path("count").asLong();
            return count == 0 ? "nothing left to clear in " + room + " up to " + upTo
                    : "cleared " + count + (count == 1 ? " message" : " messages") + " of " + room + ", up to "
                            + answer.path("upTo").asLong();
        }
    }

    /** Moderation of one user in a room; {@code USER} a user id as {@code grant} takes it. */
    abstract static class OfUser extends Moderation {
        @Parameters(index = "1", paramLabel = "USER", description = "A user id: account:..., guest:NAME, a token's sub.")
        String user;
    }

    @Command(name = "ban", description = "Ban a user from a room: out at once, on every server.")
    static final class Ban extends OfUser {
        @Override
        HttpRequest.Builder request(String base) {
            return json(roomUri(base, "/bans"), "POST", JSON.createObjectNode().put("user", user));
        }

        @Override
        String describe(JsonNode answer) {
            return "banned " + user + " from " + room;
        }
    }

    @Command(name = "unban", description = "Lift a user's ban from a room.")
    static final class Unban extends OfUser {
        @Override
        HttpRequest.Builder request(String base) {
            return HttpRequest.newBuilder(URI.create(roomUri(base, "/bans/" + segment(user)))).DELETE();
        }

        @Override
        String describe(JsonNode answer) {
            return answer.path("changed").asBoolean() ? "unbanned " + user + " in " + room
                    : user + " was not banned in " + room;
        }
    }

    @Command(name = "timeout", description = "Let a user read a room but not send to it for SECONDS (0 lifts it).")
    static final class Timeout extends OfUser {
        @Parameters(index = "2", paramLabel = "SECONDS", description = "1 to 1209600 (two weeks), or 0.")
        long seconds;

        @Override
        HttpRequest.Builder request(String base) {
            return json(roomUri(base, "/timeouts"), "POST",
                    JSON.createObjectNode().put("user", user).put("seconds", seconds));
        }

        @Override
        String describe(JsonNode answer) {
            return answer.hasNonNull("until") ? "timed out " + user + " in " + room + " until " + time(answer.path("until"))
                    : "lifted the timeout of " + user + " in " + room;
        }
    }

    @Command(name = "slow", description = "Slow mode: one message per user every SECONDS (0: off).")
    static final class Slow extends Moderation {
        @Parameters(index = "1", paramLabel = "SECONDS", description = "1 to 3600, or 0.")
        long seconds;

        @Override
        HttpRequest.Builder request(String base) {
            return json(roomUri(base, "/slow"), "POST", JSON.createObjectNode().put("seconds", seconds));
        }

        @Override
        String describe(JsonNode answer) {
            return seconds == 0 ? "slow mode off in " + room
                    : "slow mode in " + room + ": one message per user every " + seconds + " s";
        }
    }

    @Command(name = "audit", description = "A room's moderation log, newest first, a line per entry: time,"
            + " moderator, action, target, detail.")
    static final class Audit extends Moderation {
        @Option(names = "--limit", paramLabel = "N", description = "Entries to show, 1 to 500 (the server's default: 50).")
        Integer limit;

        @Option(names = "--before", paramLabel = "C", description = "Entries older than this one: the cursor the"
                + " previous page ended with.")
        String before;

        @Override
        HttpRequest.Builder request(String base) {
            StringBuilder query = new StringBuilder();
            if (limit != null) {
                query.append("&limit=").append(limit);
            }
            if (before != null) {
                query.append("&before=").append(segment(before));
            }
            String q = query.isEmpty() ? "" : "?" + query.substring(1);
            return HttpRequest.newBuilder(URI.create(roomUri(base, "/audit" + q))).GET();
        }

        @Override
        void print(PrintWriter out, String body) throws IOException {
            JsonNode answer = JSON.readTree(body);
            for (JsonNode e : answer.path("entries")) {
                out.println(describe(e));
            }
            if (answer.hasNonNull("next")) {
                // On stderr, so that the entries alone can be piped on.
                spec.commandLine().getErr().println("older entries: --before " + answer.path("next").asText());
            }
        }

        /** One entry, its fields tab-separated (a guest's name may hold spaces). */
        @Override
        String describe(JsonNode entry) {
            String line = String.join("\t", time(entry.path("at")), entry.path("by").asText(),
                    entry.path("action").asText(), entry.path("target").asText());
            String detail = entry.path("detail").asText("");
            return detail.isEmpty() ? line : line + "\t" + detail;
        }
    }
}
