package io.parley.bench;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.parley.client.ParleyConnection;
import io.parley.client.Requests;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * One benchmark member on a WebSocket: says hello, joins, then turns frames into {@link MemberEvents}.
 *
 * <p>Deliveries and acks are most of the traffic, and presence frames pour in while thousands of
 * members join, so those three are recognised by their first bytes and never parsed: with fields in
 * the order the protocol document lists them, a frame starts {@code {"type":"message"}. A frame
 * that starts any other way, including these types with fields in another order, is parsed in full,
 * so the shortcut is only an optimisation.
 *
 * <p>Threads: handler methods run on the transport's pool, one at a time for this member;
 * {@link #send} runs on the pacer thread. The connection is written once, before any of those.
 */
final class WebSocketMember implements BenchMember, ParleyConnection.Handler {

    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);
    private static final Duration JOIN_TIMEOUT = Duration.ofSeconds(30);
    private static final String MESSAGE = "{\"type\":\"message\"";
    private static final String ACK = "{\"type\":\"ack\"";
    private static final String PRESENCE = "{\"type\":\"presence\"";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final String name;
    private final String room;
    private final MemberEvents events;
    private final CompletableFuture<BenchMember> joined = new CompletableFuture<>();
    private volatile ParleyConnection connection;
    private volatile boolean leaving;

    WebSocketMember(String name, String room, MemberEvents events) {
        this.name = name;
        this.room = room;
        this.events = events;
    }

    /** Connects, greets and joins; the future completes on {@code joined}, within {@link #JOIN_TIMEOUT}. */
    CompletableFuture<BenchMember> start(HttpClient client, URI url) {
        ParleyConnection.open(client, url, CONNECT_TIMEOUT, this).whenComplete((opened, failure) -> {
            if (failure != null) {
                fail(ParleyConnection.describe(failure));
                return;
            }
            connection = opened;
            opened.send(Requests.hello(name));
            opened.send(Requests.join(room));
        });
        joined.completeOnTimeout(null, JOIN_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        return joined.thenCompose(member -> {
            if (member != null) {
                return CompletableFuture.completedFuture(member);
            }
            String why = "not joined within " + JOIN_TIMEOUT.toSeconds() + " s";
            fail(why);
            return CompletableFuture.failedFuture(new IOException(name + ": " + why));
        });
    }

    @Override
    public void send(String id, String text) {
        connection.send(Requests.send(room, id, text));
    }

    @Override
    public CompletableFuture<Void> leave() {
        leaving = true;
        return connection.close();
    }

    @Override
    public void onMessage(String frame) {
        if (frame.startsWith(MESSAGE)) {
            events.messageReceived(frame);
        } else if (frame.startsWith(ACK)) {
            events.acked();
        } else if (!frame.startsWith(PRESENCE)) {
            parsed(frame);
        }
    }

    @Override
    public void onClose(int statusCode, String reason) {
        String why = "closed with " + statusCode + (reason.isEmpty() ? "" : " " + reason);
        if (!joined.isDone()) {
            fail(why);
        } else if (!leaving) {
            events.dropped(name, why);
        }
    }

    private void parsed(String frame) {
        JsonNode message;
        try {
            message = JSON.readTree(frame);
        } catch (JsonProcessingException e) {
            return;
        }
        switch (message.path("type").asText()) {
            case "joined" -> joined.complete(this);
            case "message" -> events.messageReceived(message.path("text").asText());
            case "ack" -> events.acked();
            case "error" -> {
                String code = message.path("code").asText();
                if (joined.isDone()) {
                    events.rejected(code);
                } else {
                    fail("refused: " + code + ": " + message.path("message").asText());
                }
            }
            default -> {
                // welcome, presence, pong: nothing to count.
            }
        }
    }

    /** The join failed: report why, and drop the connection without counting that as a drop. */
    private void fail(String why) {
        leaving = true;
        joined.completeExceptionally(new IOException(name + ": " + why));
        ParleyConnection current = connection;
        if (current != null) {
            current.abort();
        }
    }
}
