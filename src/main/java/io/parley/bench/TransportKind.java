package io.parley.bench;

import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/** The transports {@code parley bench} can measure, by the names {@code --transport} takes. */
public enum TransportKind {
    WEBSOCKET, LONGPOLL, POLL;

    /** The name on the command line and in reports. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    /**
     * The transports named, in order and each once; {@code all} stands for every one.
     *
     * @throws IllegalArgumentException for a name that is not a transport
     */
    public static List<TransportKind> parse(List<String> names) {
        List<TransportKind> kinds = new ArrayList<>();
        for (String name : names) {
            String label = name.strip().toLowerCase(Locale.ROOT);
            List<TransportKind> named = label.equals("all") ? List.of(values()) : Arrays.stream(values())
                    .filter(kind -> kind.label().equals(label)).toList();
            if (named.isEmpty()) {
                throw new IllegalArgumentException("--transport takes websocket, longpoll, poll or all, was " + name);
            }
            named.stream().filter(kind -> !kinds.contains(kind)).forEach(kinds::add);
        }
        return kinds;
    }

    /**
     * Opens this transport to the server at {@code chat} (its WebSocket address; the HTTP API is on
     * the same host and port).
     *
     * @param token        a bearer token for every member, or {@code null} for guests
     * @param client       which client {@link #WEBSOCKET} members use
     * @param longPollWait seconds the server may hold a long poll
     * @param pollInterval time between a polling member's reads
     */
    public BenchTransport open(URI chat, String token, WebSocketClientKind client, int longPollWait,
                               Duration pollInterval) {
        return switch (this) {
            case WEBSOCKET -> client == WebSocketClientKind.LEAN ? new LeanWebSocketTransport(chat, token)
                    : new WebSocketTransport(chat, token);
            case LONGPOLL -> HttpTransport.longPoll(chat, token, longPollWait);
            case POLL -> HttpTransport.poll(chat, token, pollInterval);
        };
    }
}
