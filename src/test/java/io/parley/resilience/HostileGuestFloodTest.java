package io.parley.resilience;

import com.fasterxml.jackson.databind.JsonNode;
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
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Issue 8, item 7: one address opens many connections, each a guest under a name of its own, each
 * sending as fast as its own limits allow. Per-connection and per-user limits reset with every new
 * connection and name; only the per-address limit for guests bounds what that address stores.
 */
class HostileGuestFloodTest {

    private static final int CONNECTIONS = 40;
    /** Each connection's pace: its own limit, 10 a second; 400 a second from the address together. */
    private static final long SEND_INTERVAL_MILLIS = 100;
    /** The default per-address rate for guests. */
    private static final int PER_ADDRESS = 50;

    @TempDir
    Path dir;

    @Test
    @Timeout(90)
    void guestsFromOneAddressStoreAtMostItsRateWhileOthersStillSend() throws Exception {
        try (AttackTarget server = AttackTarget.start(dir)) {
            HttpClient attackerHttp = HttpClient.newHttpClient();
            AtomicBoolean attacking = new AtomicBoolean(true);
            LongAdder stored = new LongAdder();
            LongAdder refused = new LongAdder();
            List<WebSocket> guests = new ArrayList<>();
            for (int i = 0; i < CONNECTIONS; i++) {
                guests.add(attackerHttp.newWebSocketBuilder().subprotocols("parley.v1")
                        .buildAsync(server.chatUri(), new Acks(stored, refused)).get(10, TimeUnit.SECONDS));
            }
            ExecutorService senders = Executors.newVirtualThreadPerTaskExecutor();
            for (int i = 0; i < CONNECTIONS; i++) {
                WebSocket ws = guests.get(i);
                int n = i;
                senders.submit(() -> flood(ws, "guest" + n, "flood" + n, attacking));
            }
            try {
                // Past the first burst (twice the rate), then measure what is stored over a window.
                awaitAtLeast(stored, 2L * PER_ADDRESS, Duration.ofSeconds(20));
                Thread.sleep(1000);
                long startCount = stored.sum();
                long start = System.nanoTime();
                server.assertServing();
                guestFromAnotherAddressSends(server);
                Thread.sleep(5000);
                long count = stored.sum() - startCount;
                double seconds = (System.nanoTime() - start) / 1e9;
                double rate = count / seconds;
                System.out.printf("guest flood: %.0f messages stored a second from one address"
                        + " (%d stored, %d refused in all)%n", rate, stored.sum(), refused.sum());
                assertThat(refused.sum()).as("sends refused").isPositive();
                // Generous: the limit is 50 a second; this only fails when the address is not limited at all.
                assertThat(rate).as("messages stored a second from one address").isLessThan(PER_ADDRESS * 1.6);
                server.assertServing();
            } finally {
                attacking.set(false);
                senders.shutdown();
                assertThat(senders.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
                guests.forEach(WebSocket::abort);
            }
            server.assertServing();
        }
    }

    private static void flood(WebSocket ws, String name, String room, AtomicBoolean attacking) {
        try {
            ws.sendText("{\"type\":\"hello\",\"name\":\"" + name + "\"}", true).join();
            ws.sendText("{\"type\":\"join\",\"room\":\"" + room + "\"}", true).join();
            for (long n = 0; attacking.get(); n++) {
                ws.sendText("{\"type\":\"send\",\"room\":\"" + room + "\",\"id\":\"" + name + "-" + n
                        + "\",\"text\":\"spam " + n + "\"}", true).join();
                Thread.sleep(SEND_INTERVAL_MILLIS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            // The server closed this connection: it stops.
        }
    }

    /** A guest from 127.0.0.2 is not held to 127.0.0.1's allowance: its sends are stored. */
    private static void guestFromAnotherAddressSends(AttackTarget server) throws Exception {
        HttpClient http = HttpClient.newBuilder()
                .localAddress(InetAddress.getByName(AttackTarget.BYSTANDER_ADDRESS)).build();
        try (WsClient neighbour = WsClient.connect(http, server.chatUri())) {
            neighbour.send(Map.of("type", "hello", "name", "neighbour"));
            neighbour.expect("welcome");
            neighbour.join("neighbourhood");
            for (int i = 0; i < 5; i++) {
                neighbour.say("neighbourhood", "n" + i, "hello " + i);
                JsonNode reply = neighbour.expect("ack", m -> true);
                assertThat(reply.path("id").asText()).isEqualTo("n" + i);
            }
        }
    }

    private static void awaitAtLeast(LongAdder counter, long count, Duration wait) throws InterruptedException {
        long deadline = System.nanoTime() + wait.toNanos();
        while (counter.sum() < count && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
    }

    /** Counts acks and refusals, and keeps nothing else. */
    private static final class Acks implements WebSocket.Listener {
        private final LongAdder stored;
        private final LongAdder refused;
        private boolean first = true;

        Acks(LongAdder stored, LongAdder refused) {
            this.stored = stored;
            this.refused = refused;
        }

        @Override
        public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
            if (first) {
                String head = data.subSequence(0, Math.min(40, data.length())).toString();
                if (head.contains("\"ack\"")) {
                    stored.increment();
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
