package io.parley.resilience;

import io.parley.testing.ApiClient;
import io.parley.testing.AttackTarget;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Issue 8, item 2: HTTP clients that ask for large answers and never read them. Each of several
 * connections pipelines history requests (~800 KB answered each) and takes nothing; a connection the
 * server closes is opened again at once. The server must keep serving everyone else, with its memory
 * bounded by the outbound limit per connection, not by what the attackers ask for.
 */
class HostileHttpTest {

    private static final String ROOM = "deep";
    private static final int ATTACKERS = 6;
    private static final Duration ATTACK = Duration.ofSeconds(15);
    /**
     * Between requests on one connection. Paced, not all at once: a burst of more than 16 would meet
     * the pipelining queue's limit and be cut short, while paced requests are answered one by one and,
     * without the outbound limit, pile up unread (the 64 connections grew RSS by 5 GB).
     */
    private static final long PACE_MILLIS = 25;

    @TempDir
    Path dir;

    @Test
    void pipelinedHistoryRequestsThatAreNeverReadDoNotGrowTheServer() throws Exception {
        try (AttackTarget target = AttackTarget.start(dir, "--no-rate-limits")) {
            fill(target);
            long rssBefore = target.rssBytes();

            AtomicBoolean attacking = new AtomicBoolean(true);
            AtomicLong requestsSent = new AtomicLong();
            AtomicLong connections = new AtomicLong();
            Queue<Socket> open = new ConcurrentLinkedQueue<>();
            List<Thread> attackers = new ArrayList<>();
            for (int i = 0; i < ATTACKERS; i++) {
                attackers.add(Thread.ofVirtual().start(() -> attack(target.port(), attacking, open, requestsSent, connections)));
            }
            long maxRss = rssBefore;
            try {
                long end = System.nanoTime() + ATTACK.toNanos();
                while (System.nanoTime() < end) {
                    target.assertServing();
                    maxRss = Math.max(maxRss, target.rssBytes());
                    Thread.sleep(1_000);
                }
            } finally {
                attacking.set(false);
                // A write may be stuck on a connection the server no longer reads: end it from here.
                for (Socket s : open) {
                    s.close();
                }
                for (Thread t : attackers) {
                    t.join(Duration.ofSeconds(10));
                }
            }
            target.assertServing();
            maxRss = Math.max(maxRss, target.rssBytes());
            System.out.printf("HostileHttpTest: %d requests on %d connections; RSS %d MB before, at most %d MB%n",
                    requestsSent.get(), connections.get(), rssBefore >> 20, maxRss >> 20);
            assertThat(requestsSent.get()).as("the attack ran").isGreaterThan(ATTACKERS);
            // Each attacker may hold the outbound limit (4 MiB) plus one answer.
            assertThat(maxRss - rssBefore).as("RSS growth under the attack").isLessThan(200L << 20);
        }
    }

    /** A room whose latest page is as large as the server's text budget allows (three-byte characters). */
    private static void fill(AttackTarget target) {
        String text = "\u20ac".repeat(2000);
        URI base = target.http("/");
        try (ApiClient api = new ApiClient(base.getPort())) {
            for (int i = 0; i < 150; i++) {
                HttpResponse<String> r = api.postAs("filler", ROOM, "f" + i, text);
                assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
            }
            HttpResponse<String> page = api.get("/api/rooms/" + ROOM + "/messages?limit=500");
            assertThat(page.body().getBytes(StandardCharsets.UTF_8).length).as("one page, in bytes").isGreaterThan(500_000);
            // A fresh JVM encodes its first pages in the interpreter, ten times slower: what is measured
            // here is the attack, not the warm-up.
            for (int i = 0; i < 30; i++) {
                assertThat(api.get("/api/rooms/" + ROOM + "/messages?limit=500").statusCode()).isEqualTo(200);
            }
        }
    }

    /** Pipelines history requests on one connection after another, and reads nothing, until told to stop. */
    private static void attack(int port, AtomicBoolean attacking, Queue<Socket> open, AtomicLong sent,
                               AtomicLong connections) {
        byte[] request = ("GET /api/rooms/" + ROOM + "/messages?limit=500 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                .getBytes(StandardCharsets.ISO_8859_1);
        while (attacking.get()) {
            try (Socket s = new Socket()) {
                open.add(s);
                s.setReceiveBufferSize(4096);
                s.connect(new InetSocketAddress("127.0.0.1", port), 2_000);
                connections.incrementAndGet();
                OutputStream out = s.getOutputStream();
                while (attacking.get()) {
                    out.write(request);
                    sent.incrementAndGet();
                    Thread.sleep(PACE_MILLIS);
                }
            } catch (IOException closedByTheServer) {
                // Open another and go on.
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } finally {
                open.removeIf(Socket::isClosed);
            }
        }
    }
}
