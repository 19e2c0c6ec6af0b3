package io.parley.bench;

import java.net.URI;
import java.net.URISyntaxException;

/**
 * Where a server's HTTP endpoints are, given the WebSocket address the benchmark was pointed at:
 * {@code ws://host:port/chat} serves its API at {@code http://host:port/api/...} and its counters at
 * {@code http://host:port/metrics} ({@code wss} goes with {@code https}). Paths are resolved next to
 * {@code /chat}, so a server behind a proxy prefix ({@code /parley/chat}) keeps its prefix.
 *
 * @param chat the server's WebSocket address
 */
public record ServerAddress(URI chat) {

    /** The HTTP address of {@code relative} (no leading slash), e.g. {@code "metrics"}. */
    public URI http(String relative) {
        String scheme = "wss".equalsIgnoreCase(chat.getScheme()) ? "https" : "http";
        String path = chat.getRawPath() == null || chat.getRawPath().isEmpty() ? "/" : chat.getRawPath();
        try {
            return new URI(scheme + "://" + chat.getRawAuthority() + path).resolve(relative);
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("not a server address: " + chat, e);
        }
    }

    public URI metrics() {
        return http("metrics");
    }
}
