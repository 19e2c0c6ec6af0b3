package io.parley.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * The three requests of the HTTP API (docs/PROTOCOL.md, "HTTP API") that a polling benchmark member
 * makes, for one room: read the room's latest seq, read the messages after a seq (waiting for them,
 * for long polling), post a message.
 *
 * <p>Who the member is travels as the protocol says: with a token, {@code Authorization: Bearer} on
 * every request; as a guest, {@code X-Parley-Name} (percent-encoded) on posts only, since guests
 * read without a name.
 * Nothing else is added, so the bytes on the wire are what a careful client would send.
 *
 * <p>Threads: requests go out on the caller's thread without blocking it; the futures complete on
 * the {@link HttpClient}'s executor. Immutable, so shared freely.
 */
final class RoomApi {

    /** A message read from the room. */
    record Message(long seq, String text) {
    }

    /**
     * An answer to a read: messages after the seq asked for, oldest first.
     *
     * @param seq       the room's latest seq
     * @param complete  false when more messages follow the last one here
     * @param recovered false when messages after the seq asked for are gone from the room
     */
    record Page(List<Message> messages, long seq, boolean complete, boolean recovered) {
    }

    /** The server answered with an error: its status, its error code, how long it asked us to wait. */
    static final class Refused extends IOException {
        private final int status;
        private final String code;
        private final Duration retryAfter;

        Refused(String request, int status, String code, Duration retryAfter) {
            super(request + " answered HTTP " + status + (code.isEmpty() ? "" : " " + code));
            this.status = status;
            this.code = code;
            this.retryAfter = retryAfter;
        }

        int status() {
            return status;
        }

        /** The error code from the body, or "http_" and the status when the body had none. */
        String code() {
            return code.isEmpty() ? "http_" + status : code;
        }

        Duration retryAfter() {
            return retryAfter;
        }

        /** Worth asking again: the server is busy, limiting us, or stopping. */
        boolean worthRetrying() {
            return status == 429 || status == 503;
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration TIMEOUT = Duration.ofSeconds(30);

    private final HttpClient http;
    private final URI messages;
    private final String room;
    private final String token;

    /**
     * @param token a bearer token, or {@code null} to act as a guest
     */
    RoomApi(HttpClient http, ServerAddress server, String room, String token) {
        this.http = http;
        this.messages = server.http("api/rooms/" + room + "/messages");
        this.room = room;
        this.token = token;
    }

    String room() {
        return room;
    }

    /** The room's latest seq: where a member that joins now starts reading. */
    CompletableFuture<Long> latestSeq() {
        return read("?limit=1", TIMEOUT).thenApply(page -> page.seq());
    }

    /**
     * Messages after {@code since}; with {@code waitSeconds > 0}, held by the server until one
     * arrives or the wait runs out (long polling).
     */
    CompletableFuture<Page> since(long since, int waitSeconds) {
        String query = "?since=" + since + (waitSeconds > 0 ? "&wait=" + waitSeconds : "");
        return read(query, TIMEOUT.plusSeconds(waitSeconds));
    }

    /** Posts a message as {@code name} (ignored with a token); completes once the server acked it. */
    CompletableFuture<Void> post(String name, String id, String text) {
        ObjectNode body = JSON.createObjectNode().put("id", id).put("text", text);
        HttpRequest.Builder request = request(messages, TIMEOUT)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body.toString()));
        if (token == null) {
            // Percent-encoded UTF-8, as the protocol asks; the benchmark's own names are plain ASCII.
            request.header("X-Parley-Name", URLEncoder.encode(name, StandardCharsets.UTF_8).replace("+", "%20"));
        }
        return http.sendAsync(request.build(), HttpResponse.BodyHandlers.ofString())
                .thenApply(response -> {
                    answer(response);
                    return null;
                });
    }

    /** A read; cancelling its future aborts the exchange, as cancelling the client's own future does. */
    private CompletableFuture<Page> read(String query, Duration timeout) {
        HttpRequest request = request(URI.create(messages + query), timeout).GET().build();
        CompletableFuture<HttpResponse<String>> exchange =
                http.sendAsync(request, HttpResponse.BodyHandlers.ofString());
        CompletableFuture<Page> page = exchange.thenApply(response -> page(answer(response)));
        page.whenComplete((answer, failure) -> {
            if (failure instanceof CancellationException) {
                exchange.cancel(true);
            }
        });
        return page;
    }

    private HttpRequest.Builder request(URI uri, Duration timeout) {
        HttpRequest.Builder request = HttpRequest.newBuilder(uri).timeout(timeout);
        if (token != null) {
            request.header("Authorization", "Bearer " + token);
        }
        return request;
    }

    /** The body of a 200 answer, parsed; any other answer becomes a {@link Refused}. */
    private static JsonNode answer(HttpResponse<String> response) {
        JsonNode body;
        try {
            body = JSON.readTree(response.body());
        } catch (IOException e) {
            body = JSON.nullNode();
        }
        if (response.statusCode() != 200) {
            Duration retryAfter = response.headers().firstValueAsLong("Retry-After")
                    .stream().mapToObj(Duration::ofSeconds).findFirst().orElse(Duration.ZERO);
            String request = response.request().method() + " " + response.uri().getRawPath();
            throw new CompletionException(
                    new Refused(request, response.statusCode(), body.path("code").asText(""), retryAfter));
        }
        return body;
    }

    private static Page page(JsonNode body) {
        List<Message> messages = new ArrayList<>();
        long last = 0;
        for (JsonNode message : body.path("messages")) {
            last = message.path("seq").asLong();
            messages.add(new Message(last, message.path("text").asText()));
        }
        return new Page(messages, body.path("seq").asLong(last), body.path("complete").asBoolean(true),
                body.path("recovered").asBoolean(true));
    }
}
