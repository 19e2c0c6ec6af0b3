package io.parley.client;

import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.WebSocket;
import java.net.http.WebSocketHandshakeException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One client connection to a Parley server: whole JSON text messages in, whole JSON text messages
 * out, over the JDK's {@link java.net.http.WebSocket}.
 *
 * <p>The JDK socket has two habits a caller should not have to know about, and this class hides
 * both. It may hand over one text message in several parts, so parts are assembled here and the
 * {@link Handler} only ever sees complete messages. And it refuses a {@code sendText} while the
 * previous one is still being written, so sends go through an outbox that one writer at a time
 * drains, in the order they were queued.
 *
 * <p>Threads: the {@link Handler} is called on the {@link HttpClient}'s executor, one call at a time
 * per connection (the JDK guarantees that), and never concurrently with itself. {@link #send} and
 * {@link #close} may be called from any thread. Whoever finds the outbox idle becomes its writer;
 * when a write completes, the thread that completes it (an executor thread) writes the next one.
 */
public final class ParleyConnection {

    /** The WebSocket subprotocol every Parley client offers. */
    public static final String SUBPROTOCOL = "parley.v1";

    /** Status reported to {@link Handler#onClose} when the connection ended without a close frame. */
    public static final int ABNORMAL_CLOSURE = 1006;

    private static final Duration CLOSE_HANDSHAKE_TIMEOUT = Duration.ofSeconds(2);

    /** What a connection tells its owner. Implementations must not block: they run on I/O threads. */
    public interface Handler {

        /** One complete JSON text message from the server. */
        void onMessage(String json);

        /**
         * The connection is over, called exactly once: the server's close code, or
         * {@link #ABNORMAL_CLOSURE} when the connection failed or was aborted without one.
         */
        void onClose(int statusCode, String reason);
    }

    private final Handler handler;
    private final Queue<String> outbox = new ConcurrentLinkedQueue<>();
    private final AtomicBoolean writing = new AtomicBoolean();
    private final AtomicBoolean closeSent = new AtomicBoolean();
    private final AtomicBoolean ended = new AtomicBoolean();
    private final CompletableFuture<Void> endedFuture = new CompletableFuture<>();
    private volatile boolean closeRequested;
    private volatile WebSocket socket;

    private ParleyConnection(Handler handler) {
        this.handler = handler;
    }

    /**
     * Opens a connection to {@code uri}, offering the {@value #SUBPROTOCOL} subprotocol. The future
     * fails when the TCP connection or the WebSocket handshake fails (refused, timed out, 403, ...).
     */
    public static CompletableFuture<ParleyConnection> open(HttpClient http, URI uri, Duration connectTimeout,
                                                           Handler handler) {
        return open(http, uri, connectTimeout, null, handler);
    }

    /**
     * As {@link #open(HttpClient, URI, Duration, Handler)}, showing {@code token} (if not null) in the
     * handshake's {@code Authorization: Bearer} header; a refused token fails the future (401).
     */
    public static CompletableFuture<ParleyConnection> open(HttpClient http, URI uri, Duration connectTimeout,
                                                           String token, Handler handler) {
        ParleyConnection connection = new ParleyConnection(handler);
        WebSocket.Builder builder = http.newWebSocketBuilder()
                .subprotocols(SUBPROTOCOL)
                .connectTimeout(connectTimeout);
        if (token != null) {
            builder.header("Authorization", "Bearer " + token);
        }
        return builder
                .buildAsync(uri, connection.new Receiver())
                .thenApply(ws -> {
                    connection.socket = ws;
                    return connection;
                });
    }

    /** Queues one JSON text message; messages go out in the order they were queued. */
    public void send(String json) {
        if (closeRequested || ended.get()) {
            return;
        }
        outbox.add(json);
        drain();
    }

    /**
     * Sends a normal close (1000) once everything queued before it is written, and completes when the
     * server has answered with its own close or after a short timeout, whichever comes first.
     */
    public CompletableFuture<Void> close() {
        closeRequested = true;
        drain();
        return endedFuture.copy()
                .completeOnTimeout(null, CLOSE_HANDSHAKE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)
                .whenComplete((ignored, error) -> abort());
    }

    /** Drops the TCP connection at once, without a close handshake. */
    public void abort() {
        WebSocket ws = socket;
        if (ws != null) {
            ws.abort();
        }
        end(ABNORMAL_CLOSURE, "aborted");
    }

    /**
     * Why a connection attempt failed, in words for a person: the JDK wraps the interesting exception
     * in one or two others and often leaves its message empty.
     */
    public static String describe(Throwable failure) {
        Throwable cause = failure;
        while ((cause instanceof CompletionException || cause instanceof ExecutionException)
                && cause.getCause() != null) {
            cause = cause.getCause();
        }
        return switch (cause) {
            case WebSocketHandshakeException refused ->
                    "handshake refused with HTTP status " + refused.getResponse().statusCode();
            case HttpConnectTimeoutException timeout -> "connection timed out";
            case ConnectException refused -> "connection refused";
            default -> cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage();
        };
    }

    /**
     * Writes queued messages one at a time. The CAS on {@code writing} elects a single writer; a
     * write that completes later hands the role on through its callback. Re-checking the outbox after
     * giving up the role closes the window in which another thread queued a message but lost the CAS.
     */
    private void drain() {
        while (writing.compareAndSet(false, true)) {
            String next = outbox.poll();
            if (next == null) {
                if (closeRequested && closeSent.compareAndSet(false, true)) {
                    socket.sendClose(WebSocket.NORMAL_CLOSURE, "bye");
                    return;
                }
                writing.set(false);
                if (outbox.isEmpty() && !(closeRequested && !closeSent.get())) {
                    return;
                }
                continue;
            }
            CompletableFuture<WebSocket> write = socket.sendText(next, true);
            if (write.isDone() && !write.isCompletedExceptionally()) {
                writing.set(false);
                continue;
            }
            write.whenComplete((ws, error) -> {
                if (error != null) {
                    abort();
                    return;
                }
                writing.set(false);
                drain();
            });
            return;
        }
    }

    private void end(int statusCode, String reason) {
        if (ended.compareAndSet(false, true)) {
            outbox.clear();
            endedFuture.complete(null);
            handler.onClose(statusCode, reason);
        }
    }

    /** The JDK's listener: assembles parts, asks for one message at a time, reports the end. */
    private final class Receiver implements WebSocket.Listener {

        private final StringBuilder parts = new StringBuilder();

        @Override
        public void onOpen(WebSocket webSocket) {
            socket = webSocket;
            webSocket.request(1);
        }

        @Override
        public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
            if (!last) {
                parts.append(data);
            } else if (parts.isEmpty()) {
                deliver(data.toString());
            } else {
                parts.append(data);
                String whole = parts.toString();
                parts.setLength(0);
                deliver(whole);
            }
            webSocket.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onBinary(WebSocket webSocket, ByteBuffer data, boolean last) {
            // Not part of the protocol; a server never sends one, so there is nothing to do but read on.
            webSocket.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
            end(statusCode, reason);
            return null;
        }

        @Override
        public void onError(WebSocket webSocket, Throwable error) {
            end(ABNORMAL_CLOSURE, error.getMessage() == null ? error.toString() : error.getMessage());
        }

        private void deliver(String json) {
            try {
                handler.onMessage(json);
            } catch (RuntimeException e) {
                // A handler bug must not leave a half-working connection behind: end it visibly.
                socket.abort();
                end(ABNORMAL_CLOSURE, "client error: " + e);
            }
        }
    }
}
