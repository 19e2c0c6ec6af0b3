package io.parley.bench;

import java.util.Arrays;
import java.util.Locale;

/**
 * Which WebSocket client {@code parley bench --client} measures with: the lean Netty client, fast enough
 * to find the server's limit, or the JDK's {@code java.net.http.WebSocket}, slower but written by
 * somebody else, so that a result can be checked with a second, independent client.
 */
public enum WebSocketClientKind {
    LEAN, JDK;

    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** @throws IllegalArgumentException for a name that is not a client */
    public static WebSocketClientKind parse(String name) {
        String label = name.strip().toLowerCase(Locale.ROOT);
        return Arrays.stream(values()).filter(kind -> kind.label().equals(label)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("--client takes lean or jdk, was " + name));
    }
}
