package io.parley.resilience;

import com.fasterxml.jackson.databind.JsonNode;
import io.parley.testing.ApiClient;
import io.parley.testing.ServerLog;
import io.parley.testing.StoredHistory;
import io.parley.testing.StoredHistory.Row;
import io.parley.testing.TestServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Issue 3's promises over the HTTP API, the way a browser behind a WebSocket-blocking proxy uses it:
 * clients long-poll with {@code since} and post with their own ids while their requests keep failing.
 * Some polls are abandoned mid-wait (the connection dropped), and some posts lose their answer, so they
 * are posted again with the same id. The long-poll paths that race (a message arriving as a wait runs
 * out, a poll cancelled as it is answered) run thousands of times.
 *
 * <p>Every client checks as it goes that each poll's messages continue its view exactly (last seq + 1
 * onwards). At the end every view must equal the room's stored history, and every message sent must be
 * stored exactly once, at the seq its ack named.
 *
 * <p>Runs {@value #DEFAULT_SECONDS} s; {@code -Dparley.soak.seconds=N} runs it longer.
 */
class LongPollSoakTest {

    static final int DEFAULT_SECONDS = 15;
    private static final int SECONDS = Integer.getInteger("parley.soak.seconds", DEFAULT_SECONDS);
    private static final long SEED = Long.getLong("parley.soak.seed", 5L);
    private static final int CLIENTS = 12;
    private static final List<String> ROOMS = List.of("north", "south");

    @TempDir
    Path dir;

    @Test
    void longPollingClientsWhoseRequestsKeepFailingMissNothingAndStoreNothingTwice() throws Exception {
        System.out.printf("long-poll soak: %d s, %d clients, seed %d%n", SECONDS, CLIENTS, SEED);
        TestServer server = TestServer.start(dir);
        ServerLog log = server.log();
        long stopSendingAt = System.nanoTime() + TimeUnit.SECONDS.toNanos(SECONDS);
        List<PollClient> clients = new ArrayList<>();
        for (int i = 0; i < CLIENTS; i++) {
            clients.add(new PollClient(server.port(), "poller" + i, ROOMS.get(i % ROOMS.size()),
                    new Random(SEED * 1000 + i), stopSendingAt));
        }
        ExecutorService threads = Executors.newFixedThreadPool(CLIENTS);
        List<Future<Void>> running = new ArrayList<>();
        clients.forEach(c -> running.add(threads.submit(c::sendAndPoll)));
        for (Future<Void> f : running) {
            f.get(SECONDS + 60, TimeUnit.SECONDS);
        }
        // Everything is confirmed: each client reads on until it has the room's last seq.
        Map<String, Long> lastSeqs = new HashMap<>();
        try (ApiClient reader = new ApiClient(server.port())) {
            for (String room : ROOMS) {
                lastSeqs.put(room, ApiClient.json(reader.get("/api/rooms/" + room + "/messages?limit=1")).path("seq").asLong());
            }
        }
        running.clear();
        clients.forEach(c -> running.add(threads.submit(() -> c.catchUpTo(lastSeqs.get(c.room)))));
        for (Future<Void> f : running) {
            f.get(60, TimeUnit.SECONDS);
        }
        threads.shutdown();
        clients.forEach(PollClient::close);
        server.close();
        assertThat(log.errors()).as("errors the server logged").isEmpty();

        List<String> violations = new ArrayList<>();
        clients.forEach(c -> violations.addAll(c.violations));
        assertThat(violations).as("what the clients found while running").isEmpty();

        Map<String, List<Row>> stored = StoredHistory.fromFile(dir);
        Map<String, Long> storedSeq = new HashMap<>();
        for (String room : ROOMS) {
            List<Row> rows = stored.getOrDefault(room, List.of());
            StoredHistory.assertGapless(room, rows.stream().map(Row::seq).toList());
            rows.forEach(r -> assertThat(storedSeq.put(r.id(), r.seq())).as("%s stored once", r.id()).isNull());
        }
        int sent = 0;
        int deliveries = 0;
        for (PollClient c : clients) {
            for (Map.Entry<String, Long> ack : c.acked.entrySet()) {
                assertThat(storedSeq.get(ack.getKey())).as("stored seq of acknowledged %s", ack.getKey())
                        .isEqualTo(ack.getValue());
            }
            assertThat(c.acked.keySet()).as("%s's sends, each acknowledged", c.name).isEqualTo(c.texts.keySet());
            List<Row> rows = stored.get(c.room);
            assertThat(c.view).as("%s's view of %s", c.name, c.room).containsExactlyElementsOf(rows);
            sent += c.texts.size();
            deliveries += c.view.size();
        }
        assertThat(storedSeq).as("everything stored was sent by a client").hasSize(sent);
        int polls = clients.stream().mapToInt(c -> c.polls).sum();
        int abandoned = clients.stream().mapToInt(c -> c.abandonedPolls).sum();
        int emptyPolls = clients.stream().mapToInt(c -> c.emptyPolls).sum();
        int lostAnswers = clients.stream().mapToInt(c -> c.lostAnswers).sum();
        int resends = clients.stream().mapToInt(c -> c.resends).sum();
        System.out.printf("long-poll soak: %d messages sent and stored once, %d polls (%d abandoned, %d ran out"
                        + " empty), %d posts whose answer was lost, %d resends, %d deliveries compared with the store%n",
                sent, polls, abandoned, emptyPolls, lostAnswers, resends, deliveries);
        assertThat(abandoned).as("abandoned polls").isPositive();
        assertThat(lostAnswers).as("posts that lost their answer").isPositive();
    }

    /** One person in one room over the HTTP API, on its own connections. Its thread does everything. */
    private static final class PollClient {
        final String name;
        final String room;
        final Random random;
        final long stopSendingAt;
        final ApiClient api;
        final List<Row> view = new ArrayList<>();
        final Map<String, String> texts = new LinkedHashMap<>();
        /** Sent and not yet acknowledged: id, and when it may go again. */
        final Map<String, Long> pending = new LinkedHashMap<>();
        final Map<String, Long> acked = new HashMap<>();
        final List<String> violations = new ArrayList<>();
        long last;
        long nextSend;
        int counter;
        int polls;
        int abandonedPolls;
        int emptyPolls;
        int lostAnswers;
        int resends;

        PollClient(int port, String name, String room, Random random, long stopSendingAt) {
            this.name = name;
            this.room = room;
            this.random = random;
            this.stopSendingAt = stopSendingAt;
            this.api = new ApiClient(port);
        }

        Void sendAndPoll() throws Exception {
            while (System.nanoTime() < stopSendingAt || !pending.isEmpty()) {
                long now = System.nanoTime();
                if (now < stopSendingAt && now >= nextSend) {
                    nextSend = now + TimeUnit.MILLISECONDS.toNanos(200 + random.nextInt(400));
                    String id = name + "-" + counter++;
                    texts.put(id, "from " + name + " #" + counter + " " + "~".repeat(random.nextInt(300)));
                    pending.put(id, 0L);
                }
                for (Map.Entry<String, Long> p : List.copyOf(pending.entrySet())) {
                    if (System.nanoTime() >= p.getValue()) {
                        post(p.getKey());
                    }
                }
                poll(random.nextInt(8) == 0);
                if (System.nanoTime() > stopSendingAt + TimeUnit.SECONDS.toNanos(30)) {
                    violations.add(name + ": still unacknowledged 30 s after the traffic stopped: " + pending.keySet());
                    break;
                }
            }
            return null;
        }

        Void catchUpTo(long seq) throws Exception {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (last < seq && System.nanoTime() < deadline) {
                poll(false);
            }
            if (last < seq) {
                violations.add(name + ": stuck at " + last + " of " + seq);
            }
            return null;
        }

        /** Posts one message; now and then the answer is lost on the way, as when a connection drops. */
        private void post(String id) throws Exception {
            boolean again = pending.get(id) != 0L;
            if (again) {
                resends++;
            }
            HttpRequest request = api.request("/api/rooms/" + room + "/messages", "X-Parley-Name", name,
                            "Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(ApiClient.body(id, texts.get(id)))).build();
            if (random.nextInt(6) == 0) {
                CompletableFuture<HttpResponse<String>> lost = api.sendAsync(request);
                Thread.sleep(random.nextInt(3));
                lost.cancel(true);
                lostAnswers++;
                pending.put(id, System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(300));
                return;
            }
            HttpResponse<String> r = api.send(request);
            JsonNode body = ApiClient.json(r);
            if (r.statusCode() == 200) {
                long seq = body.path("seq").asLong();
                Long before = acked.put(id, seq);
                if (before != null && before != seq) {
                    violations.add(name + ": " + id + " acknowledged as " + before + " and as " + seq);
                }
                pending.remove(id);
            } else if (r.statusCode() == 429) {
                pending.put(id, System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(body.path("retryAfter").asLong(500)));
            } else {
                violations.add(name + ": post " + id + " answered " + r.statusCode() + " " + r.body());
                pending.remove(id);
            }
        }

        /** One long poll for what follows {@code last}, or one abandoned after a moment. */
        private void poll(boolean abandon) throws Exception {
            polls++;
            HttpRequest request = api.request("/api/rooms/" + room + "/messages?since=" + last + "&wait=1").GET().build();
            if (abandon) {
                CompletableFuture<HttpResponse<String>> dropped = api.sendAsync(request);
                Thread.sleep(random.nextInt(300));
                if (dropped.cancel(true)) {
                    abandonedPolls++;
                    return;
                }
                take(dropped.join());
                return;
            }
            take(api.send(request));
        }

        private void take(HttpResponse<String> r) {
            if (r.statusCode() == 429) {
                return;
            }
            if (r.statusCode() != 200) {
                violations.add(name + ": poll answered " + r.statusCode() + " " + r.body());
                return;
            }
            JsonNode messages = ApiClient.json(r).path("messages");
            if (messages.isEmpty()) {
                emptyPolls++;
            }
            for (JsonNode m : messages) {
                long seq = m.path("seq").asLong();
                if (seq != last + 1) {
                    violations.add(name + ": " + room + ": seq " + seq + " after " + last
                            + (seq <= last ? " (a repeat)" : " (a gap)"));
                    return;
                }
                view.add(Row.of(m));
                last = seq;
            }
        }

        void close() {
            api.close();
        }
    }
}
