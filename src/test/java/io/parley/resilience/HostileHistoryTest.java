package io.parley.resilience;

import com.fasterxml.jackson.databind.JsonNode;
import io.parley.store.HistoryStore;
import io.parley.store.StoredMessage;
import io.parley.testing.AttackTarget;
import io.parley.testing.WsClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetAddress;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Issue 8, item 3: clients that hammer {@code history} with reads from disk, then hang up while their
 * reads are queued, against {@code parley serve} with a 256 MB heap. Before the fix their reads queued
 * without bound, ran long after they left, and put every other user's read behind them.
 */
class HostileHistoryTest {

    private static final int ATTACKERS = 64;
    private static final String ROOM = "archive";
    private static final int STORED = 3000;
    /**
     * Each attacker's pace, 20 requests a second: under the default frame rate, and together (1,280 a
     * second) above what the readers answer, so that without bounds reads pile up. (At 640 a second
     * the readers of an unbounded server kept up, and it passed.)
     */
    private static final long FRAME_INTERVAL_MILLIS = 50;
    private static final Duration BYSTANDER_READ_LIMIT = Duration.ofSeconds(2);

    @TempDir
    Path dir;

    @Test
    @Timeout(120)
    void historyFloodThenHangUpLeavesOtherReadersServed() throws Exception {
        fill(dir.resolve("data"));
        try (AttackTarget server = AttackTarget.start(dir)) {
            HttpClient attackerHttp = HttpClient.newHttpClient();
            HttpClient bystanderHttp = HttpClient.newBuilder()
                    .localAddress(InetAddress.getByName(AttackTarget.BYSTANDER_ADDRESS)).build();
            warmUp(server);
            server.assertServing();
            assertBystanderReadsHistory(server, bystanderHttp, "before the attack");
            AtomicBoolean attacking = new AtomicBoolean(true);
            LongAdder sent = new LongAdder();
            LongAdder answered = new LongAdder();
            LongAdder refused = new LongAdder();
            List<WebSocket> attackers = new ArrayList<>();
            for (int i = 0; i < ATTACKERS; i++) {
                attackers.add(attackerHttp.newWebSocketBuilder().subprotocols("parley.v1")
                        .buildAsync(server.chatUri(), new Discard(answered, refused)).get(10, TimeUnit.SECONDS));
            }
            ExecutorService senders = Executors.newVirtualThreadPerTaskExecutor();
            for (int i = 0; i < ATTACKERS; i++) {
                WebSocket ws = attackers.get(i);
                String name = "reader" + i;
                senders.submit(() -> attack(ws, name, attacking, sent));
            }
            try {
                // The first check after about 3 s of attack: past the server's warm-up, and past the
                // point where, without bounds, reads had piled up (about 1,000 replies' worth of
                // messages live on the heap after 3,000 requests, and full collections back to back).
                for (int round = 1; round <= 3; round++) {
                    awaitAtLeast(sent, round * 4000L, Duration.ofSeconds(20));
                    server.assertServing();
                    assertBystanderReadsHistory(server, bystanderHttp, "during " + round);
                }
            } finally {
                attacking.set(false);
                senders.shutdown();
                assertThat(senders.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
                // Hang up with reads queued: no close handshake, the sockets just go.
                attackers.forEach(WebSocket::abort);
            }
            System.out.printf("history flood: %d requests sent, %d answered, %d refused%n",
                    sent.sum(), answered.sum(), refused.sum());
            server.assertServing();
            assertBystanderReadsHistory(server, bystanderHttp, "right after the attackers hung up");
            server.assertServing();
            assertThat(server.alive()).isTrue();
        }
    }

    /**
     * A server that has served reads for a while, as one under attack in production has: on a busy
     * machine the JIT compiling the read path under the attack took seconds of CPU from everything.
     */
    private static void warmUp(AttackTarget server) {
        // 75 reads per connection: within one connection's burst of requests (100).
        for (int c = 0; c < 4; c++) {
            try (WsClient warm = WsClient.hello(server.chatUri(), "warm" + c)) {
                warm.join(ROOM);
                for (int i = 0; i < 75; i++) {
                    warm.send(Map.of("type", "history", "room", ROOM, "before", 600 + i * 29, "limit", 200));
                    warm.expect("history");
                }
            }
        }
    }

    /** Stores {@value #STORED} messages straight into the file the server will open. */
    private static void fill(Path data) throws Exception {
        try (HistoryStore store = HistoryStore.openSqlite(data, false)) {
            List<StoredMessage> batch = new ArrayList<>();
            String text = "x".repeat(100);
            long now = System.currentTimeMillis();
            for (int seq = 1; seq <= STORED; seq++) {
                batch.add(new StoredMessage(ROOM, seq, "m" + seq, "guest:filler", "filler", text, now));
            }
            store.append(batch);
        }
    }

    private static void attack(WebSocket ws, String name, AtomicBoolean attacking, LongAdder sent) {
        try {
            ws.sendText("{\"type\":\"hello\",\"name\":\"" + name + "\"}", true).join();
            ws.sendText("{\"type\":\"join\",\"room\":\"" + ROOM + "\"}", true).join();
            while (attacking.get()) {
                long before = ThreadLocalRandom.current().nextLong(600, STORED);
                ws.sendText("{\"type\":\"history\",\"room\":\"" + ROOM + "\",\"before\":" + before
                        + ",\"limit\":200}", true).join();
                sent.increment();
                Thread.sleep(FRAME_INTERVAL_MILLIS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            // The server closed this attacker (slow consumer, say): it stops.
        }
    }

    /** A client from another address joins and reads older history from disk; both must be answered quickly. */
    private static void assertBystanderReadsHistory(AttackTarget server, HttpClient http, String when) {
        try (WsClient reader = WsClient.connect(http, server.chatUri())) {
            reader.send(Map.of("type", "hello", "name", "archivist"));
            reader.expect("welcome");
            // A re-join from an old seq: its replay is read from disk too, and must not starve either.
            long joining = System.nanoTime();
            JsonNode joined = reader.join(ROOM, 500);
            Duration joinTook = Duration.ofNanos(System.nanoTime() - joining);
            assertThat(joined.path("history")).as("the replay of a join with since 500").isNotEmpty();
            assertThat(joinTook).as("the bystander's join from disk %s", when).isLessThan(BYSTANDER_READ_LIMIT);
            long start = System.nanoTime();
            reader.send(Map.of("type", "history", "room", ROOM, "before", 1000, "limit", 100));
            long deadline = start + BYSTANDER_READ_LIMIT.toNanos();
            JsonNode reply;
            do {
                reply = reader.next(Duration.ofNanos(Math.max(1, deadline - System.nanoTime())));
            } while (reply != null && reply.path("type").asText().equals("presence"));
            Duration took = Duration.ofNanos(System.nanoTime() - start);
            System.out.printf("bystander %s: join from disk %d ms, history %d ms%n", when, joinTook.toMillis(),
                    took.toMillis());
            assertThat(reply).as("the bystander's history reply %s", when).isNotNull();
            assertThat(reply.path("type").asText()).as("reply %s: %s", when, reply).isEqualTo("history");
            assertThat(reply.path("messages")).hasSize(100);
            assertThat(took).as("the bystander's history read %s", when).isLessThan(BYSTANDER_READ_LIMIT);
        }
    }

    private static void awaitAtLeast(LongAdder counter, long count, Duration wait) throws InterruptedException {
        long deadline = System.nanoTime() + wait.toNanos();
        while (counter.sum() < count && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
    }

    /** Reads every reply and keeps only counts, so the attack costs the test little memory. */
    private static final class Discard implements WebSocket.Listener {
        private final LongAdder answered;
        private final LongAdder refused;
        private boolean first = true;

        Discard(LongAdder answered, LongAdder refused) {
            this.answered = answered;
            this.refused = refused;
        }

        @Override
        public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
            if (first) {
                String head = data.subSequence(0, Math.min(40, data.length())).toString();
                if (head.contains("\"history\"")) {
                    answered.increment();
                } else if (head.contains("\"error\"")) {
                    refused.increment();
                }
            }
            first = last;
            ws.request(1);
            return null;
        }
    }
}
