package io.parley.bench;

import io.parley.client.ParleyConnection;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;

/**
 * Benchmark members over WebSocket, each on its own {@link ParleyConnection}: the JDK's client
 * ({@code parley bench --client jdk}), kept beside the {@link LeanWebSocketTransport} as a second,
 * independent check, at about three times its CPU per delivery.
 *
 * <p>All connections share a few {@link HttpClient}s and one fixed pool of threads, so that a run
 * with thousands of members does not start thousands of threads. More than one client because each
 * has a single selector thread doing the socket I/O of all its connections; spreading connections
 * over a few lets that work use more than one core. Handler callbacks, and so every
 * {@link MemberEvents} call, run on the shared pool.
 */
public final class WebSocketTransport implements BenchTransport {

    private final URI url;
    private final ExecutorService io;
    private final List<HttpClient> clients;
    private final AtomicInteger nextClient = new AtomicInteger();

    public WebSocketTransport(URI url) {
        this(url, null);
    }

    /**
     * Members that present {@code token} in the handshake; {@code null} for guests. The token goes in
     * the {@code token} query parameter, which the protocol accepts from any client.
     */
    public WebSocketTransport(URI url, String token) {
        int cores = Runtime.getRuntime().availableProcessors();
        this.url = token == null ? url : withToken(url, token);
        this.io = Executors.newFixedThreadPool(Math.max(2, cores),
                Thread.ofPlatform().daemon().name("parley-bench-io-", 0).factory());
        this.clients = IntStream.range(0, Math.clamp(cores, 1, 4))
                .mapToObj(i -> HttpClient.newBuilder().executor(io).build())
                .toList();
    }

    private static URI withToken(URI url, String token) {
        String query = "token=" + URLEncoder.encode(token, StandardCharsets.UTF_8);
        String plain = url.toString();
        return URI.create(plain + (url.getRawQuery() == null ? "?" : "&") + query);
    }

    @Override
    public String name() {
        return "websocket (jdk client)";
    }

    @Override
    public CompletableFuture<BenchMember> join(String name, String room, MemberEvents events) {
        HttpClient client = clients.get(Math.floorMod(nextClient.getAndIncrement(), clients.size()));
        return new WebSocketMember(name, room, events).start(client, url);
    }

    @Override
    public void close() {
        clients.forEach(HttpClient::shutdownNow);
        io.shutdownNow();
    }
}
