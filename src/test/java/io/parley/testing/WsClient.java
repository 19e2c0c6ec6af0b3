package io.parley.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A test's chat client: the JDK's own {@link WebSocket}, speaking raw JSON so that tests check the
 * wire format as docs/PROTOCOL.md writes it, not as our codec reads it.
 */
public final class WsClient implements AutoCloseable {

    public static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newHttpClient();
    private static final Duration TIMEOUT = Duration.ofSeconds(10);

    private final BlockingQueue<JsonNode> inbox = new LinkedBlockingQueue<>();
    private final CompletableFuture<int[]> closed = new CompletableFuture<>();
    private final CompletableFuture<String> closeReason = new CompletableFuture<>();
    private final WebSocket socket;

    private WsClient(URI uri, Map<String, String> headers) {
        this(HTTP, uri, headers);
    }

    private WsClient(HttpClient http, URI uri, Map<String, String> headers) {
        WebSocket.Builder builder = http.newWebSocketBuilder().subprotocols("parley.v1").connectTimeout(TIMEOUT);
        headers.forEach(builder::header);
        socket = builder.buildAsync(uri, new Listener()).join();
    }

    public static WsClient connect(URI uri) {
        return new WsClient(uri, Map.of());
    }

    public static WsClient connect(URI uri, Map<String, String> headers) {
        return new WsClient(uri, headers);
    }

    /** Connects through {@code http}: for a client that must come from another local address. */
    public static WsClient connect(HttpClient http, URI uri) {
        return new WsClient(http, uri, Map.of());
    }

    /** Connects, says hello as {@code name} and waits for the welcome. */
    public static WsClient hello(URI uri, String name) {
        WsClient c = connect(uri);
        c.send(Map.of("type", "hello", "name", name));
        c.expect("welcome");
        return c;
    }

    public WebSocket socket() {
        return socket;
    }

    public void send(Map<String, ?> message) {
        sendRaw(JSON.valueToTree(message).toString());
    }

    public void sendRaw(String text) {
        socket.sendText(text, true).join();
    }

    /** Joins a room and returns the {@code joined} reply. */
    public JsonNode join(String room) {
        send(Map.of("type", "join", "room", room));
        return expect("joined", m -> room.equals(m.path("room").asText()));
    }

    public JsonNode join(String room, long since) {
        send(Map.of("type", "join", "room", room, "since", since));
        return expect("joined", m -> room.equals(m.path("room").asText()));
    }

    public void say(String room, String id, String text) {
        send(Map.of("type", "send", "room", room, "id", id, "text", text));
    }

    public JsonNode expect(String type) {
        return expect(type, m -> true);
    }

    /** The next message of this type that matches, skipping others; fails after a timeout. */
    public JsonNode expect(String type, Predicate<JsonNode> match) {
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        List<JsonNode> skipped = new ArrayList<>();
        while (System.nanoTime() < deadline) {
            JsonNode m = poll(deadline - System.nanoTime());
            if (m == null) {
                break;
            }
            if (type.equals(m.path("type").asText()) && match.test(m)) {
                return m;
            }
            skipped.add(m);
        }
        throw new AssertionError("no '" + type + "' within " + TIMEOUT + "; got instead: " + skipped
                + (closed.isDone() ? "; closed with " + closed.join()[0] : ""));
    }

    /** Collects {@code count} messages of the given type, in arrival order. */
    public List<JsonNode> collect(String type, int count) {
        List<JsonNode> out = new ArrayList<>();
        while (out.size() < count) {
            out.add(expect(type));
        }
        return out;
    }

    /**
     * The next {@code count} messages that match, whatever their type, in arrival order, skipping
     * others; fails after a timeout. For replies that may be one of several types (ack or error).
     */
    public List<JsonNode> take(int count, Predicate<JsonNode> match) {
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        List<JsonNode> out = new ArrayList<>();
        while (out.size() < count) {
            JsonNode m = poll(deadline - System.nanoTime());
            if (m == null) {
                throw new AssertionError("only " + out.size() + " of " + count + " matching messages within "
                        + TIMEOUT + ": " + out);
            }
            if (match.test(m)) {
                out.add(m);
            }
        }
        return out;
    }

    /** Whatever arrives within the window. */
    public List<JsonNode> drain(Duration window) {
        List<JsonNode> out = new ArrayList<>();
        long deadline = System.nanoTime() + window.toNanos();
        JsonNode m;
        while ((m = poll(deadline - System.nanoTime())) != null) {
            out.add(m);
        }
        return out;
    }

    /** Everything that arrives, of any type, up to and including the first message {@code last} matches. */
    public List<JsonNode> everythingUntil(Predicate<JsonNode> last) {
        List<JsonNode> out = new ArrayList<>();
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (System.nanoTime() < deadline) {
            JsonNode m = poll(deadline - System.nanoTime());
            if (m == null) {
                break;
            }
            out.add(m);
            if (last.test(m)) {
                return out;
            }
        }
        throw new AssertionError("the awaited message did not come within " + TIMEOUT.toSeconds() + " s; got " + out);
    }

    /** The next message whatever its type, or null if none arrives within the wait. */
    public JsonNode next(Duration wait) {
        return poll(wait.toNanos());
    }

    /** Drops the TCP connection at once, without a close handshake: a client that vanished. */
    public void abort() {
        socket.abort();
    }

    /** Closes with 1000 and waits up to {@code wait} for the server's close frame before dropping the TCP connection. */
    public void closeCleanly(Duration wait) {
        if (!socket.isOutputClosed()) {
            socket.sendClose(WebSocket.NORMAL_CLOSURE, "bye").exceptionally(e -> null);
        }
        try {
            closed.get(wait.toMillis(), TimeUnit.MILLISECONDS);
        } catch (Exception notInTime) {
            // Dropped below anyway.
        }
        socket.abort();
    }

    private JsonNode poll(long nanos) {
        try {
            return inbox.poll(Math.max(0, nanos), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    /** The close code the server sent; fails if none within the timeout. */
    public int awaitCloseCode() {
        try {
            return closed.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS)[0];
        } catch (Exception e) {
            throw new AssertionError("server did not close the connection", e);
        }
    }

    public String closeReason() {
        return closeReason.join();
    }

    public boolean isClosed() {
        return closed.isDone();
    }

    @Override
    public void close() {
        if (!socket.isOutputClosed()) {
            socket.sendClose(WebSocket.NORMAL_CLOSURE, "bye").exceptionally(e -> null);
        }
        socket.abort();
    }

    public static ObjectNode object() {
        return JSON.createObjectNode();
    }

    private final class Listener implements WebSocket.Listener {
        private final StringBuilder partial = new StringBuilder();

        @Override
        public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
            partial.append(data);
            if (last) {
                try {
                    inbox.add(JSON.readTree(partial.toString()));
                } catch (Exception e) {
                    inbox.add(JSON.createObjectNode().put("type", "unparseable").put("raw", partial.toString()));
                }
                partial.setLength(0);
            }
            webSocket.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onBinary(WebSocket webSocket, ByteBuffer data, boolean last) {
            webSocket.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
            closeReason.complete(reason);
            closed.complete(new int[] {statusCode});
            return null;
        }

        @Override
        public void onError(WebSocket webSocket, Throwable error) {
            closeReason.complete(String.valueOf(error));
            closed.complete(new int[] {-1});
        }
    }
}
