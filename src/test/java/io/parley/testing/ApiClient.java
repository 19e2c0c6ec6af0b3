package io.parley.testing;

import com.fasterxml.jackson.databind.JsonNode;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * A test's client for the HTTP API: the JDK's own {@link HttpClient} over HTTP/1.1 (keep-alive, one
 * pool per instance), sending and reading raw JSON as docs/PROTOCOL.md writes it. Headers are given as
 * name, value pairs. Each instance has its own connections, and so its own per-connection rate limits.
 */
public final class ApiClient implements AutoCloseable {

    private static final Duration TIMEOUT = Duration.ofSeconds(40);

    private final HttpClient http = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(10))
            .build();
    private final int port;

    public ApiClient(int port) {
        this.port = port;
    }

    public URI uri(String pathAndQuery) {
        return URI.create("http://127.0.0.1:" + port + pathAndQuery);
    }

    /** A request for {@code pathAndQuery} with these headers, to finish and {@link #send}. */
    public HttpRequest.Builder request(String pathAndQuery, String... headers) {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri(pathAndQuery)).timeout(TIMEOUT);
        for (int i = 0; i < headers.length; i += 2) {
            b.setHeader(headers[i], headers[i + 1]);
        }
        return b;
    }

    /** {@code POST /api/rooms/{room}/messages} with this body, as {@code application/json} unless a header says otherwise. */
    public HttpResponse<String> post(String room, String body, String... headers) {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri("/api/rooms/" + room + "/messages")).timeout(TIMEOUT)
                .header("Content-Type", "application/json");
        for (int i = 0; i < headers.length; i += 2) {
            b.setHeader(headers[i], headers[i + 1]);
        }
        return send(b.POST(HttpRequest.BodyPublishers.ofString(body)).build());
    }

    /** Posts {@code {"id": id, "text": text}} as the guest {@code name}. */
    public HttpResponse<String> postAs(String name, String room, String id, String text) {
        return post(room, body(id, text), "X-Parley-Name", name);
    }

    public HttpResponse<String> get(String pathAndQuery, String... headers) {
        return send(request(pathAndQuery, headers).GET().build());
    }

    public HttpResponse<String> send(HttpRequest request) {
        try {
            return http.send(request, HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    public CompletableFuture<HttpResponse<String>> sendAsync(HttpRequest request) {
        return http.sendAsync(request, HttpResponse.BodyHandlers.ofString());
    }

    /** The JSON body of a message post. */
    public static String body(String id, String text) {
        return WsClient.JSON.valueToTree(Map.of("id", id, "text", text)).toString();
    }

    public static JsonNode json(HttpResponse<String> response) {
        try {
            return WsClient.JSON.readTree(response.body());
        } catch (IOException e) {
            throw new AssertionError("not JSON (" + response.statusCode() + "): " + response.body(), e);
        }
    }

    @Override
    public void close() {
        http.close();
    }
}
