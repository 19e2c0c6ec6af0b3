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
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.Callable;

/**
 * {@code parley room ...}: rooms and their roles on a running server, through its HTTP API
 * (docs/PROTOCOL.md, "Rooms and roles") with a token, normally an admin's. Unlike {@code parley user}
 * it does not open the database: the server checks who may do what, and tells the other nodes.
 * Prints the server's JSON answer; a refusal prints its code and message and exits with 1.
 */
@Command(name = "room", mixinStandardHelpOptions = true,
        description = "Create and administer rooms on a running server (its HTTP API, with a token).",
        subcommands = {RoomCommand.ListRooms.class, RoomCommand.Show.class, RoomCommand.Create.class,
                RoomCommand.Set.class, RoomCommand.Grant.class, RoomCommand.Revoke.class})
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
                spec.commandLine().getOut().println(r.body());
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
}
