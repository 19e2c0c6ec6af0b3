package io.parley.resilience;

import com.fasterxml.jackson.databind.JsonNode;
import io.parley.testing.ServeProcess;
import io.parley.testing.StoredHistory;
import io.parley.testing.StoredHistory.Row;
import io.parley.testing.TestServer;
import io.parley.testing.WsClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Issue 3's first promise under the harshest stop there is: {@code parley serve} killed with SIGKILL
 * while clients have sends in flight. After a restart on the same data directory every message a
 * client was told is stored ({@code ack}) is there, at the seq the ack named, with its text; each room's
 * seqs still run 1, 2, 3, ... without a gap; and the messages that were stored but whose ack died with
 * the process are whole messages that were really sent, in the order their sender sent them.
 */
class KillNineTest {

    private static final int CLIENTS = 8;
    private static final List<String> ROOMS = List.of("red", "green", "blue");
    /** Sends a client keeps unanswered: enough that many are in flight when the process dies. */
    private static final int WINDOW = 24;
    private static final int KILL_AFTER_ACKS = 1500;
    private static final Duration KILL_AT_THE_LATEST = Duration.ofSeconds(6);

    @TempDir
    Path dir;

    /** What one client sent, in order, and what it heard back before the server died. */
    private static final class Sender {
        final String name;
        final List<Row> sent = new ArrayList<>();
        final Map<String, Long> acked = new HashMap<>();
        final Map<String, String> refused = new HashMap<>();
        /** Index in {@link #sent} of the last send that got any answer; -1 if none did. */
        int lastAnswered = -1;

        Sender(String name) {
            this.name = name;
        }

        int indexOf(String id) {
            return Integer.parseInt(id.substring(id.indexOf('-') + 1));
        }
    }

    @Test
    void everyAcknowledgedMessageSurvivesSigkillAtItsSeqAndTheRoomsStayGapless() throws Exception {
        Path data = dir.resolve("data");
        // Rate limits off: they would keep most sends out of the server, and this is about what gets in.
        ServeProcess serve = ServeProcess.start(data, dir.resolve("serve.log"), "--no-rate-limits");
        List<Sender> senders = new ArrayList<>();
        AtomicInteger acks = new AtomicInteger();
        ExecutorService threads = Executors.newFixedThreadPool(CLIENTS);
        int exitStatus;
        try {
            List<Future<?>> running = new ArrayList<>();
            for (int c = 0; c < CLIENTS; c++) {
                Sender sender = new Sender("k" + c);
                senders.add(sender);
                WsClient client = WsClient.hello(serve.chatUri(), sender.name);
                ROOMS.forEach(client::join);
                running.add(threads.submit(() -> sendUntilTheServerDies(client, sender, acks)));
            }
            long deadline = System.nanoTime() + KILL_AT_THE_LATEST.toNanos();
            while (acks.get() < KILL_AFTER_ACKS && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            assertThat(running).as("senders still sending when the process is killed").noneMatch(Future::isDone);
            exitStatus = serve.kill9();
            for (Future<?> f : running) {
                f.get(30, TimeUnit.SECONDS);
            }
        } finally {
            threads.shutdownNow();
            serve.close();
        }
        assertThat(exitStatus).as("exit status of a process killed by SIGKILL").isEqualTo(128 + 9);

        // What survived, read from the file before any server touches it again.
        Map<String, List<Row>> stored = StoredHistory.fromFile(data);
        Map<String, Row> sentById = new HashMap<>();
        Map<String, Sender> senderById = new HashMap<>();
        for (Sender s : senders) {
            for (Row r : s.sent) {
                sentById.put(r.id(), r);
                senderById.put(r.id(), s);
            }
        }

        int storedCount = 0;
        int unacknowledgedButStored = 0;
        Map<String, List<Integer>> storedIndexes = new HashMap<>();
        for (String room : ROOMS) {
            List<Row> rows = stored.getOrDefault(room, List.of());
            StoredHistory.assertGapless(room, rows.stream().map(Row::seq).toList());
            Map<String, Integer> lastIndexInRoom = new HashMap<>();
            for (Row row : rows) {
                Row sent = sentById.get(row.id());
                assertThat(sent).as("stored message %s was sent by a client", row).isNotNull();
                assertThat(row.room()).as("room of %s", row.id()).isEqualTo(sent.room());
                assertThat(row.text()).as("text of %s", row.id()).isEqualTo(sent.text());
                Sender s = senderById.get(row.id());
                int index = s.indexOf(row.id());
                Integer before = lastIndexInRoom.put(s.name, index);
                assertThat(before == null || before < index)
                        .as("%s's messages in %s are stored in the order it sent them (%s after #%s)", s.name, room,
                                row.id(), before)
                        .isTrue();
                storedIndexes.computeIfAbsent(s.name, n -> new ArrayList<>()).add(index);
                if (!s.acked.containsKey(row.id())) {
                    unacknowledgedButStored++;
                }
                storedCount++;
            }
        }
        assertThat(StoredHistory.idCounts(stored)).as("no message stored twice").allSatisfy((id, n) -> assertThat(n).isOne());

        int acked = 0;
        for (Sender s : senders) {
            Map<String, Long> seqOfStored = new HashMap<>();
            stored.values().forEach(rows -> rows.forEach(r -> seqOfStored.put(r.id(), r.seq())));
            for (Map.Entry<String, Long> ack : s.acked.entrySet()) {
                assertThat(seqOfStored.get(ack.getKey())).as("acknowledged %s stored at its acked seq", ack.getKey())
                        .isEqualTo(ack.getValue());
                acked++;
            }
            // The server takes a connection's sends in order and commits them in order, so what it
            // stored of one client is where that client's sends start, less those it refused.
            List<Integer> indexes = storedIndexes.getOrDefault(s.name, List.of());
            int highest = indexes.stream().mapToInt(Integer::intValue).max().orElse(-1);
            int checkUpTo = s.refused.isEmpty() ? highest : Math.min(highest, s.lastAnswered);
            for (int i = 0; i <= checkUpTo; i++) {
                String id = s.sent.get(i).id();
                assertThat(indexes.contains(i) || s.refused.containsKey(id))
                        .as("%s's send %s, before its stored send #%d, is stored or was refused", s.name, id, highest)
                        .isTrue();
            }
        }

        // A restarted server serves exactly that, and numbers on from it.
        try (TestServer server = TestServer.start(data);
             WsClient after = WsClient.hello(server.chatUri(), "after")) {
            for (String room : ROOMS) {
                List<Row> viaProtocol = StoredHistory.viaProtocol(server.chatUri(), room).stream().map(Row::of).toList();
                assertThat(viaProtocol).as("history of %s served after the restart", room)
                        .containsExactlyElementsOf(stored.getOrDefault(room, List.of()));
                after.join(room);
                after.say(room, "after-" + room, "after the restart");
                long expected = stored.getOrDefault(room, List.of()).size() + 1;
                assertThat(after.expect("ack", m -> m.get("room").asText().equals(room)).get("seq").asLong())
                        .as("next seq in %s", room).isEqualTo(expected);
            }
        }

        int sent = senders.stream().mapToInt(s -> s.sent.size()).sum();
        int refused = senders.stream().mapToInt(s -> s.refused.size()).sum();
        System.out.printf("kill -9: %d clients sent %d, %d acknowledged and checked at their seq, %d refused, "
                        + "%d stored (%d of them never acknowledged), %d rooms gapless%n",
                CLIENTS, sent, acked, refused, storedCount, unacknowledgedButStored, ROOMS.size());
        assertThat(acked).as("acknowledged before the kill").isGreaterThan(200);
        assertThat(sent).as("sent, counting those in flight at the kill").isGreaterThan(acked);
    }

    /**
     * Sends round the rooms, keeping at most {@link #WINDOW} unanswered, until the connection breaks;
     * then reads what arrived before the break.
     */
    private static Void sendUntilTheServerDies(WsClient client, Sender s, AtomicInteger acks) {
        int answered = 0;
        boolean alive = true;
        while (true) {
            while (alive && s.sent.size() - answered < WINDOW) {
                int n = s.sent.size();
                String room = ROOMS.get((n + s.name.hashCode()) % ROOMS.size());
                Row row = new Row(room, 0, s.name + "-" + n, "message " + n + " from " + s.name + " " + "z".repeat(n % 97));
                s.sent.add(row);
                try {
                    client.say(row.room(), row.id(), row.text());
                } catch (CompletionException | IllegalStateException | java.io.UncheckedIOException e) {
                    alive = false;
                }
            }
            JsonNode m = client.next(Duration.ofMillis(alive ? 20 : 500));
            if (m == null) {
                if (client.isClosed() || !alive) {
                    return null;
                }
                continue;
            }
            switch (m.path("type").asText()) {
                case "ack" -> {
                    s.acked.put(m.get("id").asText(), m.get("seq").asLong());
                    s.lastAnswered = Math.max(s.lastAnswered, s.indexOf(m.get("id").asText()));
                    answered++;
                    acks.incrementAndGet();
                }
                case "error" -> {
                    String code = m.path("code").asText();
                    assertThat(m.path("request").asText()).as("error %s", m).isEqualTo("send");
                    assertThat(m.hasNonNull("id")).as("refusal names its send: %s", m).isTrue();
                    s.refused.put(m.get("id").asText(), code);
                    s.lastAnswered = Math.max(s.lastAnswered, s.indexOf(m.get("id").asText()));
                    answered++;
                    if (code.equals("rate_limited")) {
                        sleep(100);
                    }
                }
                default -> { }
            }
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
