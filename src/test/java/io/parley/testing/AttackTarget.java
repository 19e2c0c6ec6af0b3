package io.parley.testing;

import com.fasterxml.jackson.databind.JsonNode;
import io.parley.cli.ParleyCommand;

import java.io.IOException;
import java.net.InetAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code parley serve} as an attacker finds it: a child JVM with a small heap ({@code -Xmx256m}), on
 * 127.0.0.1 and a free port, and the checks the issue "Hostile clients" asks for during and after each
 * attack: the process is alive, {@code /healthz} answers within a second, an ordinary client joins,
 * sends and has its ack within two seconds, and the resident memory stays bounded.
 *
 * <p>The ordinary client (the bystander) connects from 127.0.0.2, so that limits an attack from
 * 127.0.0.1 runs into (connections or sends per address) are not what the bystander meets; what it
 * shows is whether the server still serves everyone else.
 */
public final class AttackTarget implements AutoCloseable {

    /** The heap the server gets: small, so that an attack that grows memory shows within seconds. */
    public static final String HEAP = "-Xmx256m";
    /** What RSS may reach with a 256 MB heap, Netty's direct buffers and the JVM's own: well under it. */
    public static final long RSS_LIMIT = 700L * 1024 * 1024;
    /** The address the bystander comes from. */
    public static final String BYSTANDER_ADDRESS = "127.0.0.2";
    private static final Duration START_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration HEALTH_LIMIT = Duration.ofSeconds(1);
    private static final Duration SEND_LIMIT = Duration.ofSeconds(2);
    private static final AtomicLong BYSTANDERS = new AtomicLong();

    private final Process process;
    private final int port;
    private final Path log;
    private final HttpClient bystanderHttp;

    private AttackTarget(Process process, int port, Path log) throws IOException {
        this.process = process;
        this.port = port;
        this.log = log;
        this.bystanderHttp = HttpClient.newBuilder()
                .localAddress(InetAddress.getByName(BYSTANDER_ADDRESS))
                .connectTimeout(HEALTH_LIMIT)
                .build();
    }

    /** Starts {@code parley serve} with {@code serveArgs}, its data and log in {@code workDir}. */
    public static AttackTarget start(Path workDir, String... serveArgs) throws Exception {
        return start(workDir, List.of(), serveArgs);
    }

    /** As {@link #start(Path, String...)}, with JVM options after {@value #HEAP}. */
    public static AttackTarget start(Path workDir, List<String> jvmOptions, String... serveArgs) throws Exception {
        return start(workDir, List.of(), jvmOptions, serveArgs);
    }

    /**
     * As {@link #start(Path, List, String...)}, with the java command run through {@code prefix}, e.g.
     * {@code prlimit --nofile=1200:1200} for a server under a small descriptor limit.
     */
    public static AttackTarget start(Path workDir, List<String> prefix, List<String> jvmOptions, String... serveArgs)
            throws Exception {
        // Bound only once the child JVM has started, seconds later on a loaded machine.
        int port = FreePorts.belowEphemeralRange();
        Path data = Files.createDirectories(workDir.resolve("data"));
        Path log = workDir.resolve("serve.log");
        List<String> command = new ArrayList<>(prefix);
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.add(HEAP);
        command.addAll(jvmOptions);
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), ParleyCommand.class.getName(), "serve",
                "--host", "127.0.0.1", "--port", String.valueOf(port), "--data-dir", data.toString()));
        command.addAll(List.of(serveArgs));
        Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        AttackTarget target = new AttackTarget(process, port, log);
        target.awaitHealthy();
        return target;
    }

    private void awaitHealthy() throws Exception {
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        while (System.nanoTime() < deadline && process.isAlive()) {
            try {
                if (health().statusCode() == 200) {
                    return;
                }
            } catch (IOException notYet) {
                Thread.sleep(100);
            }
        }
        process.destroyForcibly();
        throw new IllegalStateException("parley serve did not become healthy; its log:\n" + log());
    }

    private HttpResponse<Void> health() throws IOException, InterruptedException {
        return bystanderHttp.send(HttpRequest.newBuilder(http("/healthz")).timeout(HEALTH_LIMIT).build(),
                HttpResponse.BodyHandlers.discarding());
    }

    public int port() {
        return port;
    }

    public long pid() {
        return process.pid();
    }

    public URI chatUri() {
        return URI.create("ws://127.0.0.1:" + port + "/chat");
    }

    /** {@code http://127.0.0.1:port} followed by {@code pathAndQuery}. */
    public URI http(String pathAndQuery) {
        return URI.create("http://127.0.0.1:" + port + pathAndQuery);
    }

    public boolean alive() {
        return process.isAlive();
    }

    /** The resident set size of the server process, from /proc. */
    public long rssBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc", String.valueOf(pid()), "status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException gone) {
            throw new AssertionError("the server process " + pid() + " is gone", gone);
        }
        throw new AssertionError("no VmRSS for process " + pid());
    }

    /** The checks the issue asks for, during and after an attack, with RSS below {@link #RSS_LIMIT}. */
    public void assertServing() {
        assertServing(RSS_LIMIT);
    }

    /**
     * Fails unless the server is alive, answers {@code /healthz} within a second, and lets a new client
     * from {@value #BYSTANDER_ADDRESS} say hello, join "bystanders", send, and receive its ack within
     * two seconds, with its RSS below {@code rssLimitBytes}.
     */
    public void assertServing(long rssLimitBytes) {
        assertThat(process.isAlive()).as("the server process is alive; its log ends:\n%s", tail()).isTrue();
        long start = System.nanoTime();
        try {
            assertThat(health().statusCode()).as("/healthz").isEqualTo(200);
        } catch (IOException | InterruptedException e) {
            throw new AssertionError("/healthz did not answer within " + HEALTH_LIMIT.toMillis() + " ms", e);
        }
        assertThat(Duration.ofNanos(System.nanoTime() - start)).as("/healthz answer time").isLessThan(HEALTH_LIMIT);

        start = System.nanoTime();
        long deadline = start + SEND_LIMIT.toNanos();
        String name = "bystander" + BYSTANDERS.incrementAndGet();
        try (WsClient client = WsClient.connect(bystanderHttp, chatUri())) {
            client.send(Map.of("type", "hello", "name", name));
            awaitType(client, "welcome", deadline);
            client.send(Map.of("type", "join", "room", "bystanders"));
            awaitType(client, "joined", deadline);
            JsonNode ack = sendWithin(client, name, deadline);
            assertThat(ack.path("seq").asLong()).as("the bystander's ack carries a seq").isPositive();
        } catch (RuntimeException e) {
            throw new AssertionError("the bystander could not chat: " + e, e);
        }
        long rss = rssBytes();
        assertThat(rss).as("RSS of the server (bytes)").isLessThan(rssLimitBytes);
    }

    /**
     * Sends one message and returns its ack. Every bystander comes from the same address, so checks run
     * back to back may meet the per-address guest limit: a {@code rate_limited} answer is honoured as an
     * ordinary client would (wait {@code retryAfter}, send again) within the same deadline.
     */
    private JsonNode sendWithin(WsClient client, String name, long deadline) {
        for (int attempt = 1; ; attempt++) {
            client.say("bystanders", name + "-1", "still here");
            try {
                return awaitType(client, "ack", deadline);
            } catch (RateLimited limited) {
                long waitNanos = TimeUnit.MILLISECONDS.toNanos(limited.retryAfterMillis);
                if (System.nanoTime() + waitNanos >= deadline) {
                    throw new AssertionError("the bystander was still rate limited after " + attempt + " tries: "
                            + limited.getMessage());
                }
                try {
                    Thread.sleep(Math.max(1, limited.retryAfterMillis));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new AssertionError(e);
                }
            }
        }
    }

    /** A {@code rate_limited} answer: not a failure of the server, a wait the client is told to make. */
    private static final class RateLimited extends RuntimeException {
        final long retryAfterMillis;

        RateLimited(JsonNode error) {
            super(error.toString(), null, false, false);
            this.retryAfterMillis = error.path("retryAfter").asLong(100);
        }
    }

    /** The next message of {@code type}; fails on an error or a close, or when the deadline passes. */
    private JsonNode awaitType(WsClient client, String type, long deadline) {
        while (true) {
            long left = deadline - System.nanoTime();
            JsonNode m = left > 0 ? client.next(Duration.ofNanos(left)) : null;
            if (m == null) {
                throw new AssertionError("the bystander got no '" + type + "' within " + SEND_LIMIT.toMillis()
                        + " ms of connecting" + (client.isClosed() ? " (closed by the server)" : ""));
            }
            if (type.equals(m.path("type").asText())) {
                return m;
            }
            if ("error".equals(m.path("type").asText()) && "rate_limited".equals(m.path("code").asText())) {
                throw new RateLimited(m);
            }
            if ("error".equals(m.path("type").asText())) {
                throw new AssertionError("the bystander got an error while waiting for '" + type + "': " + m);
            }
        }
    }

    /** Waits for the process to end by itself and returns its exit code; fails if it does not. */
    public int awaitExit(Duration wait) throws InterruptedException {
        if (!process.waitFor(wait.toMillis(), TimeUnit.MILLISECONDS)) {
            throw new AssertionError("the server process " + pid() + " was still alive after " + wait);
        }
        return process.exitValue();
    }

    public String log() throws IOException {
        return Files.exists(log) ? Files.readString(log) : "";
    }

    public Path logFile() {
        return log;
    }

    private String tail() {
        try {
            String all = log();
            return all.length() <= 4000 ? all : all.substring(all.length() - 4000);
        } catch (IOException e) {
            return "(log unreadable: " + e + ")";
        }
    }

    /** SIGTERM, then SIGKILL if the process has not ended within 10 s. */
    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
        bystanderHttp.close();
    }
}
