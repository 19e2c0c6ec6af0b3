package io.parley.resilience;

import com.fasterxml.jackson.databind.JsonNode;
import io.parley.testing.ServerLog;
import io.parley.testing.StoredHistory;
import io.parley.testing.StoredHistory.Row;
import io.parley.testing.TestServer;
import io.parley.testing.WsClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Issue 3's promises over time: many clients in several rooms chat while their connections keep
 * dropping, and none of them misses, repeats or reorders a message, and no message is lost or stored
 * twice.
 *
 * <p>Each client is in two or three of the rooms and sends a message every 250-600 ms (under the
 * default rate limits). Every few seconds it loses its connection: mostly abruptly (the TCP connection
 * closed without a close handshake, and whatever it had not read yet lost with it), sometimes with a
 * clean close. It reconnects after a short pause, re-joins each room with {@code since} set to the
 * last seq it saw, pages on with {@code history} when the reply is not {@code complete}, and sends again,
 * with the same id, every message whose ack it did not get. It checks everything as it goes: live
 * messages come as last seq + 1; a re-join's history starts right after {@code since}; nothing arrives
 * for a room before its {@code joined}.
 *
 * <p>At the end every client's view of every room, from its first join on, must equal the room's
 * history in the SQLite file exactly (seq, id, text), and every message any client sent must be stored
 * exactly once, at the seq its ack named.
 *
 * <p>It runs for {@value #DEFAULT_SECONDS} s by default, which is enough for every check above and
 * for each client to drop and re-join several times. A paged catch-up under live traffic needs an
 * absence longer than one reply's worth of a room's text (about 15 s at the default rate limits), so
 * a short soak sees one now and then and a longer one dozens (34 in 45 s). For a longer soak, set the
 * system property {@code parley.soak.seconds}:
 * {@code ./mvnw test -Dtest=SoakTest -Dparley.soak.seconds=600}.
 */
class SoakTest {

    static final int DEFAULT_SECONDS = 15;
    private static final int SECONDS = Integer.getInteger("parley.soak.seconds", DEFAULT_SECONDS);
    private static final long SEED = Long.getLong("parley.soak.seed", 3L);
    private static final int CLIENTS = 30;
    private static final List<String> ROOMS = List.of("north", "south", "east", "west");

    @TempDir
    Path dir;

    @Test
    void clientsThatKeepDroppingTheirConnectionsMissNothingAndNothingIsStoredTwice() throws Exception {
        System.out.printf("soak: %d s, %d clients, %d rooms, seed %d%n", SECONDS, CLIENTS, ROOMS.size(), SEED);
        // Production defaults, rate and connection limits included: these clients stay within them.
        TestServer server = TestServer.start(dir);
        ServerLog log = server.log();
        soak(SECONDS, server::chatUri, false, () -> { }, () -> {
            server.close();
            assertThat(log.errors()).as("errors the server logged").isEmpty();
            return StoredHistory.fromFile(dir);
        });
    }

    /**
     * Runs the clients against whichever node {@code nodes} names at each (re)connect for
     * {@code seconds}, calling {@code meanwhile} every half second while the traffic flows; then stops
     * the traffic, lets everyone catch up, calls {@code stop} for the rooms' stored history, and checks
     * every view and every send against it.
     */
    static void soak(int seconds, Supplier<URI> nodes, boolean nodesDie, Meanwhile meanwhile,
                     Callable<Map<String, List<Row>>> stop) throws Exception {
        Phase phase = new Phase(seconds, nodesDie);
        List<SoakClient> clients = new ArrayList<>();
        for (int i = 0; i < CLIENTS; i++) {
            Random random = new Random(SEED * 1000 + i);
            List<String> rooms = new ArrayList<>(ROOMS);
            Collections.shuffle(rooms, random);
            clients.add(new SoakClient(nodes, "soak" + i, List.copyOf(rooms.subList(0, 2 + random.nextInt(2))), random, phase));
        }
        ExecutorService threads = Executors.newFixedThreadPool(CLIENTS);
        List<Future<?>> running = new ArrayList<>();
        for (SoakClient c : clients) {
            running.add(threads.submit(c::run));
        }
        while (System.nanoTime() < phase.stopAt) {
            Thread.sleep(Math.max(1, Math.min(500, TimeUnit.NANOSECONDS.toMillis(phase.stopAt - System.nanoTime()))));
            meanwhile.run();
        }
        phase.stopping = true;
        boolean quiet = phase.quiet.await(60, TimeUnit.SECONDS);
        Map<String, Long> finalSeqs = new HashMap<>();
        if (quiet) {
            try (WsClient reader = WsClient.hello(nodes.get(), "final-reader")) {
                for (String room : ROOMS) {
                    finalSeqs.put(room, reader.join(room).get("seq").asLong());
                }
            }
        }
        phase.finalSeqs = finalSeqs;
        phase.done = true;
        for (Future<?> f : running) {
            f.get(60, TimeUnit.SECONDS);
        }
        threads.shutdown();
        Map<String, List<Row>> stored = stop.call();

        List<String> violations = new ArrayList<>();
        clients.forEach(c -> violations.addAll(c.violations));
        assertThat(violations.subList(0, Math.min(50, violations.size())))
                .as("what the clients found while running (the first 50 of %d)", violations.size()).isEmpty();
        assertThat(quiet).as("every client got every send confirmed and caught up after the traffic stopped").isTrue();

        Map<String, Row> sentById = new HashMap<>();
        for (SoakClient c : clients) {
            sentById.putAll(c.sent);
        }
        int messages = 0;
        for (String room : ROOMS) {
            List<Row> rows = stored.getOrDefault(room, List.of());
            StoredHistory.assertGapless(room, rows.stream().map(Row::seq).toList());
            assertThat(rows.size()).as("last seq of %s", room).isEqualTo(finalSeqs.get(room).intValue());
            Map<String, Integer> times = new HashMap<>();
            for (Row r : rows) {
                times.merge(r.id(), 1, Integer::sum);
                Row sent = sentById.get(r.id());
                assertThat(sent).as("stored %s was sent by a client", r.id()).isNotNull();
                assertThat(r.room()).isEqualTo(sent.room());
                assertThat(r.text()).isEqualTo(sent.text());
            }
            assertThat(times).as("ids stored more than once in %s", room).allSatisfy((id, n) -> assertThat(n).isOne());
            messages += rows.size();
        }
        Map<String, Long> seqById = new HashMap<>();
        stored.values().forEach(rows -> rows.forEach(r -> seqById.put(r.id(), r.seq())));
        assertThat(seqById.keySet()).as("every message sent is stored").containsAll(sentById.keySet());

        long deliveries = 0;
        int views = 0;
        int acks = 0;
        for (SoakClient c : clients) {
            for (Map.Entry<String, Long> ack : c.acked.entrySet()) {
                assertThat(seqById.get(ack.getKey())).as("stored seq of acknowledged %s", ack.getKey()).isEqualTo(ack.getValue());
                acks++;
            }
            for (String room : c.rooms) {
                List<Row> view = c.views.get(room).seen;
                if (view.isEmpty()) {
                    continue;
                }
                List<Row> rows = stored.get(room);
                int from = (int) c.views.get(room).base;
                assertThat(view).as("%s's view of %s from seq %d", c.name, room, from + 1)
                        .containsExactlyElementsOf(rows.subList(from, rows.size()).stream().map(SoakTest::digest).toList());
                deliveries += view.size();
                views++;
            }
        }
        int reconnects = clients.stream().mapToInt(c -> c.abrupt + c.clean).sum();
        int abrupt = clients.stream().mapToInt(c -> c.abrupt).sum();
        int resent = clients.stream().mapToInt(c -> c.resent).sum();
        int resendsAcked = clients.stream().mapToInt(c -> c.resendsAcked).sum();
        int caughtUp = clients.stream().mapToInt(c -> c.pagedCatchUps).sum();
        int longAbsences = clients.stream().mapToInt(c -> c.longOffline).sum();
        System.out.printf("soak: %d rooms, %d clients, %d reconnects (%d abrupt, %d clean, %d after a long absence),"
                        + " %d catch-ups paged,"
                        + " %d messages stored, %d sent and %d acks checked exactly once, %d resends (%d acknowledged),"
                        + " %d views and %d deliveries compared with the store%n",
                ROOMS.size(), CLIENTS, reconnects, abrupt, reconnects - abrupt, longAbsences, caughtUp, messages, sentById.size(),
                acks, resent, resendsAcked, views, deliveries);
        assertThat(reconnects).as("reconnects").isGreaterThan(CLIENTS);
    }

    /** What a soak does while its clients run: kill and restart nodes, or nothing. */
    interface Meanwhile {
        void run() throws Exception;
    }

    /** A row with its text reduced to length and hash: thirty views of long texts would fill the heap. */
    static Row digest(Row r) {
        return new Row(r.room(), r.seq(), r.id(), r.text().length() + ":" + r.text().hashCode());
    }

    /** What the test tells every client: stop the traffic, and then the rooms' final seqs. */
    private static final class Phase {
        final long stopAt;
        volatile boolean stopping;
        volatile boolean done;
        volatile Map<String, Long> finalSeqs = Map.of();
        final CountDownLatch quiet = new CountDownLatch(CLIENTS);
        /** Nodes are killed on purpose: a connection the server ends is not a finding. */
        final boolean nodesDie;

        Phase(int seconds, boolean nodesDie) {
            stopAt = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
            this.nodesDie = nodesDie;
        }
    }

    /** A client's view of one room: every message it took, in order. */
    private static final class RoomView {
        enum State { OFFLINE, JOINING, CATCHING_UP, LIVE }

        final List<Row> seen = new ArrayList<>();
        final TreeMap<Long, JsonNode> held = new TreeMap<>();
        State state = State.OFFLINE;
        /** The seq just before the first one seen; -1 until the first join is answered. */
        long base = -1;
        long catchUpTo;

        long last() {
            return seen.isEmpty() ? base : seen.getLast().seq();
        }
    }

    /** One send not yet confirmed, and the connection it last went out on. */
    private static final class Pending {
        final Row row;
        int connection;
        long notBefore;
        boolean resent;

        Pending(Row row, int connection) {
            this.row = row;
            this.connection = connection;
        }
    }

    /** One simulated person with a flaky network. Its own thread does everything; nothing is shared. */
    private static final class SoakClient {
        final Supplier<URI> nodes;
        final String name;
        final List<String> rooms;
        final Random random;
        final Phase phase;
        final Map<String, RoomView> views = new HashMap<>();
        final Map<String, Row> sent = new ConcurrentHashMap<>();
        final Map<String, Pending> pending = new LinkedHashMap<>();
        final Map<String, Long> acked = new HashMap<>();
        final Map<String, Long> ownSeen = new HashMap<>();
        final List<String> violations = new ArrayList<>();
        WsClient ws;
        int connection;
        int abrupt;
        int clean;
        int resent;
        int resendsAcked;
        int pagedCatchUps;
        int longOffline;
        int counter;
        long nextSend;
        long dropAt;
        boolean quietReported;

        SoakClient(Supplier<URI> nodes, String name, List<String> rooms, Random random, Phase phase) {
            this.nodes = nodes;
            this.name = name;
            this.rooms = rooms;
            this.random = random;
            this.phase = phase;
            rooms.forEach(r -> views.put(r, new RoomView()));
        }

        Void run() throws InterruptedException {
            connect();
            while (true) {
                try {
                    if (step()) {
                        return null;
                    }
                } catch (RuntimeException e) {
                    if (!phase.nodesDie) {
                        throw e;
                    }
                    // Its node was killed between the check and the send: a dropped connection.
                    drop(false);
                }
            }
        }

        /** One turn of the client's loop; true when it is done. */
        private boolean step() throws InterruptedException {
            long now = System.nanoTime();
            if (ws.isClosed()) {
                if (!phase.nodesDie) {
                    violation("the server closed the connection: " + ws.closeReason());
                }
                drop(false);
                return false;
            }
            if (!phase.stopping && now >= dropAt) {
                drop(random.nextInt(10) < 7);
                return false;
            }
            JsonNode m = ws.next(Duration.ofMillis(5));
            if (m != null) {
                handle(m);
                return false;
            }
            if (!phase.stopping && now >= nextSend) {
                sendNew();
            }
            retryRefused(now);
            if (phase.stopping && !quietReported && pending.isEmpty()
                    && views.values().stream().allMatch(v -> v.state == RoomView.State.LIVE)) {
                quietReported = true;
                phase.quiet.countDown();
            }
            if (phase.done) {
                if (caughtUpWith(phase.finalSeqs) || phase.finalSeqs.isEmpty()) {
                    ws.closeCleanly(Duration.ofSeconds(1));
                    return true;
                }
            }
            return false;
        }

        private boolean caughtUpWith(Map<String, Long> finalSeqs) {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (true) {
                boolean all = rooms.stream().allMatch(r -> views.get(r).last() >= finalSeqs.getOrDefault(r, 0L));
                if (all) {
                    return true;
                }
                if (System.nanoTime() > deadline) {
                    rooms.forEach(r -> {
                        if (views.get(r).last() < finalSeqs.getOrDefault(r, 0L)) {
                            violation(r + ": stuck at seq " + views.get(r).last() + " of " + finalSeqs.get(r));
                        }
                    });
                    return true;
                }
                JsonNode m = ws.next(Duration.ofMillis(20));
                if (m != null) {
                    handle(m);
                }
            }
        }

        private void connect() throws InterruptedException {
            int failures = 0;
            while (true) {
                try {
                    ws = WsClient.hello(nodes.get(), name);
                    sendJoins();
                    break;
                } catch (RuntimeException | AssertionError e) {
                    if (ws != null) {
                        ws.abort();
                    }
                    if (++failures == 20) {
                        violation("cannot reconnect: " + e);
                    }
                    Thread.sleep(50L * Math.min(failures, 10));
                }
            }
            connection++;
            long now = System.nanoTime();
            dropAt = now + TimeUnit.MILLISECONDS.toNanos(1000 + random.nextInt(7000));
            nextSend = now + TimeUnit.MILLISECONDS.toNanos(250 + random.nextInt(350));
        }

        private void sendJoins() {
            for (String room : rooms) {
                RoomView v = views.get(room);
                v.state = RoomView.State.JOINING;
                v.held.clear();
                ws.send(v.last() < 0 ? Map.of("type", "join", "room", room)
                        : Map.of("type", "join", "room", room, "since", v.last()));
            }
        }

        /**
         * Loses the connection: abruptly (no close handshake; what it had not read is gone, and half the
         * time a message sent just before is in the air) or cleanly. Then it is offline for a moment, or
         * now and then for many seconds, long enough that catching up takes more than one reply.
         */
        private void drop(boolean abruptly) throws InterruptedException {
            if (abruptly) {
                if (random.nextBoolean()) {
                    sendNew();
                }
                ws.abort();
                abrupt++;
            } else {
                ws.closeCleanly(Duration.ofMillis(500));
                clean++;
            }
            views.values().forEach(v -> v.state = RoomView.State.OFFLINE);
            long offline = 20 + random.nextInt(280);
            if (random.nextInt(12) == 0) {
                offline = Math.min(12_000 + random.nextInt(12_000),
                        TimeUnit.NANOSECONDS.toMillis(phase.stopAt - System.nanoTime()));
                longOffline++;
            }
            Thread.sleep(Math.max(offline, 20));
            connect();
        }

        private void sendNew() {
            nextSend = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(250 + random.nextInt(350));
            List<String> live = rooms.stream().filter(r -> views.get(r).state == RoomView.State.LIVE).toList();
            if (live.isEmpty()) {
                return;
            }
            String room = live.get(random.nextInt(live.size()));
            String id = name + "-" + counter++;
            // Mostly long texts, so that a long absence is more than one reply's worth of text.
            int length = random.nextInt(5) == 0 ? random.nextInt(60) : 1200 + random.nextInt(700);
            StringBuilder text = new StringBuilder("soak " + id + " ");
            for (int i = 0; i < length; i++) {
                text.append(i % 50 == 7 ? "é" : i % 50 == 31 ? "😀" : "~");
            }
            Row row = new Row(room, 0, id, text.toString());
            sent.put(id, row);
            pending.put(id, new Pending(row, connection));
            ws.say(room, id, row.text());
        }

        /** Sends again whatever went out on an earlier connection, or was refused for its rate, once its room is live. */
        private void retryRefused(long now) {
            for (Pending p : pending.values()) {
                if (p.connection != connection && now >= p.notBefore
                        && views.get(p.row.room()).state == RoomView.State.LIVE) {
                    p.connection = connection;
                    p.resent = true;
                    resent++;
                    ws.say(p.row.room(), p.row.id(), p.row.text());
                }
            }
        }

        private void handle(JsonNode m) {
            String type = m.path("type").asText();
            String room = m.path("room").asText();
            RoomView v = views.get(room);
            switch (type) {
                case "joined" -> joined(room, v, m);
                case "history" -> page(room, v, m);
                case "message" -> {
                    if (v == null) {
                        violation("message for a room it is not in: " + m);
                    } else if (v.state == RoomView.State.LIVE) {
                        take(room, v, m);
                    } else if (v.state == RoomView.State.CATCHING_UP) {
                        v.held.put(m.get("seq").asLong(), m);
                    } else {
                        violation(room + ": message before joined: " + m);
                    }
                }
                case "ack" -> {
                    String id = m.get("id").asText();
                    long seq = m.get("seq").asLong();
                    Long before = acked.put(id, seq);
                    if (before != null && before != seq) {
                        violation("two acks for " + id + " with seqs " + before + " and " + seq);
                    }
                    Long delivered = ownSeen.get(id);
                    if (delivered != null && delivered != seq) {
                        violation(id + " delivered as " + delivered + " but acknowledged as " + seq);
                    }
                    Pending p = pending.remove(id);
                    if (p != null && p.resent) {
                        resendsAcked++;
                    }
                }
                case "error" -> {
                    if (!"rate_limited".equals(m.path("code").asText())) {
                        violation("error " + m);
                        return;
                    }
                    // Refused for its rate, not lost: send again after the wait it names.
                    long wait = TimeUnit.MILLISECONDS.toNanos(m.path("retryAfter").asLong(1000));
                    List<Pending> again = m.hasNonNull("id") && pending.containsKey(m.get("id").asText())
                            ? List.of(pending.get(m.get("id").asText())) : List.copyOf(pending.values());
                    for (Pending p : again) {
                        p.connection = -1;
                        p.notBefore = System.nanoTime() + wait;
                    }
                }
                default -> { }
            }
        }

        private void joined(String room, RoomView v, JsonNode m) {
            if (v == null || v.state != RoomView.State.JOINING) {
                violation("unexpected joined " + m);
                return;
            }
            long roomSeq = m.get("seq").asLong();
            boolean first = v.last() < 0;
            if (!first && m.path("recovered").isBoolean() && !m.get("recovered").asBoolean()) {
                violation(room + ": re-join since " + v.last() + " not recovered: " + m);
            }
            JsonNode history = m.get("history");
            if (first) {
                // The newest messages, whatever came before them: the view starts here.
                v.base = history.isEmpty() ? roomSeq : history.get(0).get("seq").asLong() - 1;
                for (JsonNode h : history) {
                    if (!appendNext(room, v, h, "first join's history")) {
                        return;
                    }
                }
            } else {
                for (JsonNode h : history) {
                    if (!appendNext(room, v, h, "re-join history")) {
                        return;
                    }
                }
            }
            boolean complete = m.get("complete").asBoolean();
            if (complete || v.last() >= roomSeq) {
                if (v.last() != roomSeq) {
                    violation(room + ": joined with seq " + roomSeq + " and complete, but history ends at " + v.last());
                }
                v.state = RoomView.State.LIVE;
            } else {
                v.state = RoomView.State.CATCHING_UP;
                v.catchUpTo = roomSeq;
                pagedCatchUps++;
                ws.send(Map.of("type", "history", "room", room, "since", v.last(), "limit", 500));
            }
        }

        private void page(String room, RoomView v, JsonNode m) {
            if (v == null || v.state != RoomView.State.CATCHING_UP) {
                violation("unexpected history " + m);
                return;
            }
            JsonNode messages = m.get("messages");
            for (JsonNode h : messages) {
                if (h.get("seq").asLong() > v.last() && !appendNext(room, v, h, "history page")) {
                    return;
                }
            }
            if (v.last() < v.catchUpTo && !messages.isEmpty()) {
                ws.send(Map.of("type", "history", "room", room, "since", v.last(), "limit", 500));
                return;
            }
            if (v.last() < v.catchUpTo) {
                violation(room + ": history ended at " + v.last() + " before the joined seq " + v.catchUpTo);
            }
            v.state = RoomView.State.LIVE;
            for (JsonNode held : v.held.values()) {
                if (held.get("seq").asLong() > v.last()) {
                    take(room, v, held);
                }
            }
            v.held.clear();
        }

        /** A live message: exactly the next seq, never a repeat, never a gap. */
        private void take(String room, RoomView v, JsonNode m) {
            appendNext(room, v, m, "live message");
        }

        private boolean appendNext(String room, RoomView v, JsonNode m, String what) {
            long seq = m.get("seq").asLong();
            if (seq != v.last() + 1) {
                violation(room + ": " + what + " with seq " + seq + " after " + v.last()
                        + (seq <= v.last() ? " (a repeat)" : " (a gap)"));
                return false;
            }
            Row row = Row.of(m);
            v.seen.add(digest(row));
            if (sent.containsKey(row.id())) {
                // Our own message. Seeing it proves it is stored, but this client waits for the ack all
                // the same and sends again without one: the server must answer a resend with the
                // original seq, and store and broadcast nothing new.
                Long ack = acked.get(row.id());
                if (ack != null && ack != seq) {
                    violation(row.id() + " acknowledged as " + ack + " but delivered as " + seq);
                }
                ownSeen.put(row.id(), seq);
            }
            return true;
        }

        private void violation(String what) {
            if (violations.size() < 100) {
                violations.add(name + ": " + what);
            }
        }
    }
}
