package io.parley.bench;

import java.net.URI;
import java.net.http.HttpClient;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;

/**
 * Benchmark members over the HTTP API ({@link HttpMember}), in one of its two ways of receiving:
 * long polling ({@link #longPoll}) or polling at an interval ({@link #poll}). Sending is the same
 * for both: one {@code POST} per message.
 *
 * <p>Members speak HTTP/1.1 through a few shared JDK {@link HttpClient}s, which keep connections
 * alive and reuse them: a long-polling member holds one connection for its waiting read, a polling
 * member borrows one from the pool for each read. Several clients, as for WebSocket, because each
 * does the socket I/O of all its connections on one selector thread. Completions, and so every
 * {@link MemberEvents} call, run on one shared pool; one timer thread starts delayed reads.
 */
public final class HttpTransport implements BenchTransport {

    private final String name;
    private final ServerAddress server;
    private final String token;
    private final int waitSeconds;
    private final Duration interval;
    private final ExecutorService io;
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().daemon().name("parley-bench-poll-timer").factory());
    private final List<HttpClient> clients;
    private final AtomicInteger nextClient = new AtomicInteger();

    private HttpTransport(String name, URI chat, String token, int waitSeconds, Duration interval) {
        int cores = Runtime.getRuntime().availableProcessors();
        this.name = name;
        this.server = new ServerAddress(chat);
        this.token = token;
        this.waitSeconds = waitSeconds;
        this.interval = interval;
        this.io = Executors.newFixedThreadPool(Math.max(2, cores),
                Thread.ofPlatform().daemon().name("parley-bench-http-", 0).factory());
        this.clients = IntStream.range(0, Math.clamp(cores, 1, 4))
                .mapToObj(i -> HttpClient.newBuilder()
                        .version(HttpClient.Version.HTTP_1_1)
                        .connectTimeout(Duration.ofSeconds(10))
                        .executor(io)
                        .build())
                .toList();
    }

    /**
     * Members that long-poll: each read waits at the server up to {@code waitSeconds} for a message.
     *
     * @param chat  the server's WebSocket address, from which its HTTP address follows
     * @param token a bearer token for every member, or {@code null} for guests
     */
    public static HttpTransport longPoll(URI chat, String token, int waitSeconds) {
        if (waitSeconds < 1) {
            throw new IllegalArgumentException("a long poll waits at least 1 s, was " + waitSeconds);
        }
        return new HttpTransport("longpoll", chat, token, waitSeconds, Duration.ZERO);
    }

    /** Members that poll: each reads what is new every {@code interval}, without waiting at the server. */
    public static HttpTransport poll(URI chat, String token, Duration interval) {
        if (interval.isNegative() || interval.isZero()) {
            throw new IllegalArgumentException("the poll interval must be positive, was " + interval);
        }
        return new HttpTransport("poll", chat, token, 0, interval);
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public CompletableFuture<BenchMember> join(String member, String room, MemberEvents events) {
        HttpClient client = clients.get(Math.floorMod(nextClient.getAndIncrement(), clients.size()));
        return new HttpMember(member, new RoomApi(client, server, room, token), events, waitSeconds, interval, timer)
                .start();
    }

    @Override
    public void close() {
        timer.shutdownNow();
        clients.forEach(HttpClient::shutdownNow);
        io.shutdownNow();
    }
}
