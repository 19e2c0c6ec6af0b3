package io.parley.resilience;

import com.auth0.jwt.JWT;
import com.auth0.jwt.algorithms.Algorithm;
import io.parley.testing.AttackTarget;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Issue 8, item 8: unauthenticated requests must not be able to flood the server's log. One address
 * sends thousands of requests the server refuses (targets no decoder can read, tokens that are signed
 * but absurd, tokens in query strings) within a few seconds. The server keeps serving everyone else,
 * answers each with a 4xx, and its log stays a few lines long, with none of the tokens in it.
 */
class HostileLogFloodTest {

    private static final String SECRET = "the-log-flood-secret-of-at-least-32-bytes";
    private static final int ATTACKERS = 2;
    /** The attack ends after this many requests, or after {@link #ATTACK_NANOS}, whichever comes first. */
    private static final int REQUESTS = 3_000;
    /**
     * Requests a second, at most. What is measured is the log, not how many connections a second one
     * address may open (the accept limits' tests): unpaced, the attackers and the server share two
     * busy cores with the bystander, which then waits for a CPU rather than for the server.
     */
    private static final long PER_SECOND = 300;
    /** Long enough for a thousand requests on a slow, shared machine (a loaded CI box manages ~70 a second). */
    private static final long ATTACK_NANOS = 20_000_000_000L;
    private static final int AT_LEAST = 1_000;
    /** The start-up lines and a few more; one stack trace per refused request would be megabytes. */
    private static final long LOG_LIMIT_BYTES = 16 * 1024;

    @TempDir
    Path dir;

    private static String token(String name, long expSeconds) {
        return JWT.create().withSubject("u-flood").withClaim("name", name).withClaim("exp", expSeconds)
                .sign(Algorithm.HMAC256(SECRET));
    }

    @Test
    void thousandsOfRefusedRequestsLeaveTheServerServingAndItsLogSmall() throws Exception {
        String valid = token("Flood", Instant.now().plusSeconds(3600).getEpochSecond());
        String endOfTime = token("Flood", Instant.MAX.getEpochSecond());
        String bidi = token("abc\u202Egnp.exe", Instant.now().plusSeconds(3600).getEpochSecond());
        List<String> tokens = List.of(valid, endOfTime, bidi);
        String upgrade = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                + "Sec-WebSocket-Version: 13\r\n";
        List<String> requests = List.of(
                "GET /api/rooms/x/messages?since=%zz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                "GET /api/rooms/x/messages?token=" + valid + "&since=%zz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                "GET /api/rooms/%zz/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                "GET /api/rooms/x/messages?since=%EF%BC%91&limit=99999999999 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                "GET /api/rooms/x/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + endOfTime + "\r\n\r\n",
                "GET /chat?token=" + endOfTime + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + upgrade + "\r\n",
                "GET /chat?token=" + bidi + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + upgrade + "\r\n",
                "GET /chat%zz?token=" + valid + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + upgrade + "\r\n");

        try (AttackTarget target = AttackTarget.start(dir, "--token-secret", SECRET)) {
            long startLog = Files.size(target.logFile());
            AtomicInteger sent = new AtomicInteger();
            Map<String, AtomicInteger> statuses = new ConcurrentHashMap<>();
            ExecutorService attackers = Executors.newFixedThreadPool(ATTACKERS);
            long started = System.nanoTime();
            long end = started + ATTACK_NANOS;
            List<Future<?>> running = new ArrayList<>();
            for (int a = 0; a < ATTACKERS; a++) {
                int first = a;
                running.add(attackers.submit(() -> {
                    for (int i = first; System.nanoTime() < end; i++) {
                        int n = sent.incrementAndGet();
                        if (n > REQUESTS) {
                            break;
                        }
                        long due = started + n * 1_000_000_000L / PER_SECOND;
                        LockSupport.parkNanos(due - System.nanoTime());
                        String status = statusOf(target.port(), requests.get(i % requests.size()));
                        statuses.computeIfAbsent(status, s -> new AtomicInteger()).incrementAndGet();
                    }
                    return null;
                }));
            }
            while (running.stream().anyMatch(f -> !f.isDone())) {
                target.assertServing();
            }
            for (Future<?> f : running) {
                f.get();
            }
            attackers.shutdown();
            target.assertServing();

            int total = statuses.values().stream().mapToInt(AtomicInteger::get).sum();
            System.out.printf("log flood: %d requests in %d ms, answers %s, log grew %d bytes%n", total,
                    (System.nanoTime() - started) / 1_000_000, statuses, Files.size(target.logFile()) - startLog);
            assertThat(total).isGreaterThanOrEqualTo(AT_LEAST);
            // Every one refused, none with a 500 or a silent close.
            assertThat(statuses.keySet()).allSatisfy(s -> assertThat(s).matches("4\\d\\d"));
            String log = target.log();
            assertThat(Files.size(target.logFile())).as(log).isLessThan(LOG_LIMIT_BYTES);
            assertThat(log).doesNotContain("ERROR");
            for (String t : tokens) {
                assertThat(log).doesNotContain(t).doesNotContain(t.substring(t.lastIndexOf('.') + 1));
            }
        }
    }

    /** Sends one request on a fresh connection; the status, or "closed" if the server sent none. */
    private static String statusOf(int port, String request) throws IOException {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress("127.0.0.1", port), 2_000);
            socket.setSoTimeout(5_000);
            OutputStream out = socket.getOutputStream();
            out.write(request.getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            InputStream in = socket.getInputStream();
            byte[] head = in.readNBytes(12);
            String line = new String(head, StandardCharsets.ISO_8859_1);
            return line.startsWith("HTTP/1.1 ") ? line.substring(9, 12) : "closed";
        }
    }
}
