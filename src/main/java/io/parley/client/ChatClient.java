package io.parley.client;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.SequencedMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A person's seat in one room: connects, says hello, joins, prints what the room says, sends what
 * the person types, and comes back after a dropped connection without losing or repeating a message.
 *
 * <p>Recovery follows {@code docs/PROTOCOL.md}: the client remembers the last seq it printed and
 * re-joins with {@code since} set to it, printing only seqs above it. When the re-join reply says it
 * is not {@code complete}, the rest is read page by page with {@code history}, and live messages that
 * arrive meanwhile are held back so that the transcript stays in seq order. A typed line stays
 * "unconfirmed" until its {@code ack} (or its own {@code message}) arrives; after a re-join whatever
 * is still unconfirmed is sent again, with the same id: the server recognises a resend of a message it
 * already stored and only acknowledges it again, so nothing appears twice. A send refused for now
 * ({@code rate_limited}, {@code overloaded}, {@code store_unavailable}) holds every line back until the
 * delay the server names has passed, then all unconfirmed lines go again in the order typed; one
 * refused with {@code shutting_down} goes again after the re-join. When a re-join says
 * {@code recovered: false}, the server no longer has some of the missed messages (retention); the
 * client says so rather than pretend the transcript is whole.
 *
 * <p>Tokens: a connection opened with a token ends when the token expires. Given a token file, the
 * client reads the token from it at every connect, and when three quarters of the connection's time
 * are gone it reads the file again and, if it holds a new token, sends {@code refresh}: whatever
 * rotates the file (a login script, a sidecar) keeps the session going without a reconnect. Should the
 * connection end all the same (1008), the reconnect shows what the file holds then.
 *
 * <p>Threads: the current connection's callbacks (HttpClient threads), the caller's thread
 * ({@link #send}, {@link #finish}) and one scheduler thread (reconnects) all take this object's lock,
 * which guards every mutable field. Nothing done under the lock blocks: sending only queues.
 */
public final class ChatClient implements AutoCloseable {

    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(5);
    private static final Duration FIRST_JOIN_TIMEOUT = Duration.ofSeconds(10);
    private static final int CATCH_UP_PAGE = 500;
    /** How long to hold lines back after a refusal that names no delay (overloaded, store_unavailable). */
    private static final Duration RETRY_LATER = Duration.ofSeconds(1);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final URI url;
    private final String room;
    private final String name;
    /** The name the server says we chat under. */
    private String shownAs;
    /** Lines are held back after a refusal that says "later", until it is time to send them again. */
    private boolean holding;
    /** The token shown at every handshake, or null for a guest; the one in use once refreshed. */
    private String token;
    /** Where a fresh token is read from, or null when the token never changes. */
    private Path tokenFile;
    /** A token sent with {@code refresh} and not yet answered. */
    private String refreshing;
    /** The last token the server refused in a refresh: not sent again. */
    private String refusedToken;
    /** When the current connection ends unless refreshed (ms since the epoch); 0 for a guest. */
    private long validUntil;
    private final Transcript transcript;
    private final PrintWriter diagnostics;
    private final HttpClient http = HttpClient.newHttpClient();
    private final ScheduledExecutorService reconnects = Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().daemon().name("parley-chat-reconnect").factory());
    private final Backoff backoff = new Backoff(Duration.ofMillis(250), Duration.ofSeconds(15));
    private final CompletableFuture<Void> firstJoin = new CompletableFuture<>();
    /** Makes this client's send ids unique among everybody's in the room. */
    private final String idPrefix = "c" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt()) + "-";

    private Attempt current;
    private boolean ready;
    private boolean stopping;
    /** The highest seq printed; -1 before the first join. */
    private long lastSeq = -1;
    /** While catching up page by page: the room's seq at the re-join; -1 otherwise. */
    private long catchUpTo = -1;
    private final List<JsonNode> heldLive = new ArrayList<>();
    private final SequencedMap<String, String> unconfirmed = new LinkedHashMap<>();
    private long sends;
    private int maxMessageLength = Integer.MAX_VALUE;

    private ChatClient(URI url, String room, String name, Transcript transcript, PrintWriter diagnostics) {
        this.url = url;
        this.room = room;
        this.name = name;
        this.shownAs = name;
        this.transcript = transcript;
        this.diagnostics = diagnostics;
    }

    /**
     * Connects and joins, returning once the room's recent history has been printed.
     *
     * @throws IOException with a message for a person when the server cannot be reached or refuses
     *                     the hello or the join; the first attempt is not retried
     */
    public static ChatClient join(URI url, String room, String name, Transcript transcript,
                                   PrintWriter diagnostics) throws IOException {
        return join(url, room, name, null, transcript, diagnostics);
    }

    /** As {@link #join(URI, String, String, Transcript, PrintWriter)}, as the user a token names. */
    public static ChatClient join(URI url, String room, String name, String token, Transcript transcript,
                                  PrintWriter diagnostics) throws IOException {
        return start(new ChatClient(url, room, name, transcript, diagnostics), token);
    }

    /**
     * As {@link #join(URI, String, String, Transcript, PrintWriter)}, as the user named by the token in
     * {@code tokenFile}, which is read again before the token expires and at every reconnect.
     *
     * @throws IOException also when the file cannot be read or holds no token
     */
    public static ChatClient joinWithTokenFile(URI url, String room, String name, Path tokenFile,
                                               Transcript transcript, PrintWriter diagnostics) throws IOException {
        ChatClient client = new ChatClient(url, room, name, transcript, diagnostics);
        client.tokenFile = tokenFile;
        return start(client, readToken(tokenFile));
    }

    private static ChatClient start(ChatClient client, String token) throws IOException {
        client.token = token;
        synchronized (client) {
            client.connect();
        }
        try {
            client.firstJoin.get(FIRST_JOIN_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            return client;
        } catch (ExecutionException e) {
            client.close();
            throw new IOException(e.getCause().getMessage(), e.getCause());
        } catch (TimeoutException e) {
            client.close();
            throw new IOException("no answer from the server within " + FIRST_JOIN_TIMEOUT.toSeconds() + " s");
        } catch (InterruptedException e) {
            client.close();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while joining");
        }
    }

    /** Sends one line to the room now, or after the re-join if the connection is down. */
    public synchronized void send(String text) {
        // Checked here, not only by the server: a text far over the limit would make a frame over the
        // frame limit, which the server answers by closing (1009), and resending it would loop.
        if (text.codePointCount(0, text.length()) > maxMessageLength) {
            transcript.error("message_too_long", "not sent: longer than " + maxMessageLength + " characters");
            return;
        }
        String id = idPrefix + (++sends);
        unconfirmed.put(id, text);
        if (ready && !holding) {
            current.connection.send(Requests.send(room, id, text));
        }
    }

    /**
     * Waits up to {@code grace} for the server to confirm every line sent, then closes the connection
     * normally (1000). Lines still unconfirmed are reported on the diagnostics stream.
     */
    public void finish(Duration grace) throws InterruptedException {
        ParleyConnection connection;
        synchronized (this) {
            long deadline = System.nanoTime() + grace.toNanos();
            long left;
            while (!unconfirmed.isEmpty() && (left = deadline - System.nanoTime()) > 0) {
                TimeUnit.NANOSECONDS.timedWait(this, left);
            }
            if (!unconfirmed.isEmpty()) {
                diagnostic(unconfirmed.size() + " message(s) not confirmed by the server");
            }
            stopping = true;
            connection = current == null ? null : current.connection;
            current = null;
        }
        if (connection != null) {
            connection.close().join();
        }
    }

    /** Drops the connection, if any, and releases threads. Safe to call more than once. */
    @Override
    public void close() {
        ParleyConnection connection;
        synchronized (this) {
            stopping = true;
            connection = current == null ? null : current.connection;
            current = null;
        }
        if (connection != null) {
            connection.abort();
        }
        reconnects.shutdownNow();
        http.shutdownNow();
    }

    private void connect() {
        Attempt attempt = new Attempt();
        current = attempt;
        ParleyConnection.open(http, url, CONNECT_TIMEOUT, token, attempt)
                .whenComplete((connection, failure) -> opened(attempt, connection, failure));
    }

    private synchronized void opened(Attempt attempt, ParleyConnection connection, Throwable failure) {
        if (current != attempt || stopping) {
            if (connection != null) {
                connection.abort();
            }
            return;
        }
        if (failure != null) {
            lost(ParleyConnection.describe(failure));
            return;
        }
        attempt.connection = connection;
        connection.send(Requests.hello(name));
        connection.send(lastSeq < 0 ? Requests.join(room) : Requests.join(room, lastSeq));
    }

    private void lost(String why) {
        current = null;
        ready = false;
        catchUpTo = -1;
        heldLive.clear();
        if (stopping) {
            return;
        }
        if (!firstJoin.isDone()) {
            firstJoin.completeExceptionally(new IOException("cannot join " + room + " at " + url + ": " + why));
            return;
        }
        Duration delay = backoff.next();
        diagnostic("connection lost (" + why + "); reconnecting in " + delay.toMillis() + " ms");
        reconnects.schedule(this::reconnect, delay.toMillis(), TimeUnit.MILLISECONDS);
    }

    private void reconnect() {
        String fresh = tokenFile == null ? null : tokenFromFile();
        synchronized (this) {
            if (!stopping && current == null) {
                if (fresh != null) {
                    token = fresh;
                }
                connect();
            }
        }
    }

    /** The token file's token, or null (said on the diagnostics) when it cannot be read. */
    private String tokenFromFile() {
        try {
            return readToken(tokenFile);
        } catch (IOException e) {
            synchronized (this) {
                diagnostic(e.getMessage());
            }
            return null;
        }
    }

    private static String readToken(Path file) throws IOException {
        String token;
        try {
            token = Files.readString(file).strip();
        } catch (IOException e) {
            throw new IOException("cannot read the token file " + file + ": " + e.getMessage(), e);
        }
        if (token.isEmpty()) {
            throw new IOException("the token file " + file + " is empty");
        }
        return token;
    }

    /**
     * Plans the next look at the token file: when three quarters of the time until {@code validUntil}
     * (ms since the epoch) are gone, and not sooner than a second from now.
     */
    private void refreshBefore(long validUntil) {
        this.validUntil = validUntil;
        if (tokenFile == null) {
            return;
        }
        Attempt attempt = current;
        long delay = Math.max(1000, (validUntil - System.currentTimeMillis()) * 3 / 4);
        reconnects.schedule(() -> refresh(attempt, validUntil), delay, TimeUnit.MILLISECONDS);
    }

    private void refresh(Attempt attempt, long validUntil) {
        String fresh = tokenFromFile();
        synchronized (this) {
            if (stopping || current != attempt || attempt.connection == null) {
                return;
            }
            if (fresh == null || fresh.equals(token) || fresh.equals(refusedToken)) {
                // Nothing new yet: look again, more often as the end nears. If nothing comes, the
                // connection ends with 1008 and the reconnect tries whatever the file holds then.
                if (System.currentTimeMillis() < validUntil) {
                    refreshBefore(validUntil);
                }
                return;
            }
            refreshing = fresh;
            attempt.connection.send(Requests.refresh(fresh));
        }
    }

    private void refreshed(JsonNode refreshed) {
        if (refreshing != null) {
            token = refreshing;
            refreshing = null;
        }
        long validUntil = refreshed.path("validUntil").asLong();
        diagnostic("token refreshed; the connection lasts until " + Instant.ofEpochMilli(validUntil));
        refreshBefore(validUntil);
    }

    private void handle(JsonNode message) {
        switch (message.path("type").asText()) {
            case "welcome" -> {
                // With a token the server names us, whatever name we asked for.
                shownAs = message.path("name").asText(name);
                maxMessageLength = message.path("limits").path("maxMessageLength").asInt(Integer.MAX_VALUE);
                if (message.hasNonNull("validUntil")) {
                    refreshBefore(message.get("validUntil").asLong());
                }
            }
            case "refreshed" -> refreshed(message);
            case "joined" -> joined(message);
            case "history" -> caughtUpPage(message);
            case "message" -> {
                if (catchUpTo >= 0) {
                    heldLive.add(message);
                } else {
                    show(message);
                }
            }
            case "ack" -> confirmed(message.path("id").asText());
            case "presence" -> transcript.presence(message);
            case "error" -> error(message);
            default -> {
                // pong, and types a newer server may add: nothing to show.
            }
        }
    }

    private void joined(JsonNode joined) {
        diagnostic((lastSeq < 0 ? "joined " : "joined again ") + room + " as " + shownAs
                + " (" + joined.path("members").asInt() + " here)");
        if (!joined.path("recovered").asBoolean(true)) {
            diagnostic("messages " + (lastSeq + 1) + " to " + (joined.path("firstSeq").asLong() - 1)
                    + " are no longer kept by the server; continuing from " + joined.path("firstSeq").asLong());
        }
        joined.path("history").forEach(this::show);
        long roomSeq = joined.path("seq").asLong();
        if (joined.path("complete").asBoolean(true) || lastSeq >= roomSeq) {
            lastSeq = Math.max(lastSeq, roomSeq);
            ready();
        } else {
            catchUpTo = roomSeq;
            current.connection.send(Requests.historySince(room, lastSeq, CATCH_UP_PAGE));
        }
    }

    private void caughtUpPage(JsonNode history) {
        if (catchUpTo < 0) {
            return;
        }
        JsonNode messages = history.path("messages");
        messages.forEach(this::show);
        if (lastSeq < catchUpTo && !messages.isEmpty()) {
            current.connection.send(Requests.historySince(room, lastSeq, CATCH_UP_PAGE));
        } else {
            catchUpTo = -1;
            ready();
        }
    }

    private void ready() {
        heldLive.forEach(this::show);
        heldLive.clear();
        ready = true;
        backoff.reset();
        firstJoin.complete(null);
        if (!holding) {
            sendUnconfirmed();
        }
    }

    /** Sends every line not yet confirmed, in the order typed; the server ignores those it has. */
    private void sendUnconfirmed() {
        unconfirmed.forEach((id, text) -> current.connection.send(Requests.send(room, id, text)));
    }

    /**
     * The server said "not now" to a line: hold every line back, then send all unconfirmed ones again
     * in the order typed. Holding all, not only the refused one, keeps a person's lines in order.
     */
    private void holdSends(long millis) {
        if (holding) {
            return;
        }
        holding = true;
        reconnects.schedule(this::releaseSends, millis, TimeUnit.MILLISECONDS);
    }

    private synchronized void releaseSends() {
        holding = false;
        if (current != null && ready) {
            sendUnconfirmed();
        }
    }

    private void show(JsonNode message) {
        long seq = message.path("seq").asLong();
        if (seq <= lastSeq) {
            return;
        }
        lastSeq = seq;
        // Our own message arriving proves it is stored, even if its ack was lost with a connection.
        confirmed(message.path("id").asText());
        transcript.message(message);
    }

    private void confirmed(String id) {
        if (unconfirmed.remove(id) != null) {
            notifyAll();
        }
    }

    private void error(JsonNode error) {
        String code = error.path("code").asText();
        String text = error.path("message").asText();
        if (!firstJoin.isDone()) {
            firstJoin.completeExceptionally(new IOException("the server refused: " + code + ": " + text));
            return;
        }
        if (firstJoin.isCompletedExceptionally()) {
            // The join already failed and said why; what follows (hello_required for the join sent
            // right behind a refused hello) only repeats it.
            return;
        }
        if ("refresh".equals(error.path("request").asText())) {
            // The old token still holds until it expires; the file may hold a good one by then.
            refusedToken = refreshing;
            refreshing = null;
            diagnostic("the server refused the token file's new token: " + code + ": " + text);
            if (System.currentTimeMillis() < validUntil) {
                refreshBefore(validUntil);
            }
            return;
        }
        if ("send".equals(error.path("request").asText())) {
            switch (code) {
                case "rate_limited", "overloaded", "store_unavailable" -> {
                    // Refused for now, not for good: the line goes again when the server says it may.
                    holdSends(Math.max(1, error.path("retryAfter").asLong(RETRY_LATER.toMillis())));
                    return;
                }
                case "shutting_down" -> {
                    // The server closes next; the line goes again after the re-join.
                    return;
                }
                default -> { }
            }
        }
        transcript.error(code, text);
        if ("send".equals(error.path("request").asText())) {
            // Refused, not lost: sending it again would be refused again.
            confirmed(error.path("id").asText());
        }
    }

    private void diagnostic(String text) {
        diagnostics.println("parley chat: " + text);
        diagnostics.flush();
    }

    /** One connection attempt; callbacks from an attempt that is no longer current are ignored. */
    private final class Attempt implements ParleyConnection.Handler {

        private ParleyConnection connection;

        @Override
        public void onMessage(String json) {
            JsonNode message;
            try {
                message = JSON.readTree(json);
            } catch (JsonProcessingException e) {
                diagnostic("ignored a message that is not JSON: " + e.getOriginalMessage());
                return;
            }
            synchronized (ChatClient.this) {
                if (current == this) {
                    handle(message);
                }
            }
        }

        @Override
        public void onClose(int statusCode, String reason) {
            synchronized (ChatClient.this) {
                if (current == this) {
                    lost("closed with " + statusCode + (reason.isEmpty() ? "" : " " + reason));
                }
            }
        }
    }
}
