package io.parley;

import com.fasterxml.jackson.databind.JsonNode;
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
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Members join and leave rooms at random while messages flow. For every membership, the stream a
 * client receives is checked: after {@code joined} with seq S come exactly S+1, S+2, ... with no gap and
 * no duplicate, nothing for the room before its {@code joined}, and nothing after its {@code left}.
 */
class MembershipChurnTest {

    /** Memberships each churner completes (its join answered before its leave) at least. */
    private static final int MEMBERSHIPS = 13;
    /** Messages published at least while the churners come and go. */
    private static final int MESSAGES = 1000;

    @TempDir
    Path dir;

    @Test
    void everyMembershipSeesAnUnbrokenRunOfSeqsFromItsJoinToItsLeave() throws Exception {
        List<String> rooms = List.of("red", "green", "blue");
        try (TestServer server = TestServer.start(dir, TestServer.UNTHROTTLED)) {
            WsClient publisher = WsClient.hello(server.chatUri(), "publisher");
            rooms.forEach(publisher::join);
            List<WsClient> churners = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                churners.add(WsClient.hello(server.chatUri(), "churner" + i));
            }
            // Counts, not a time, so that what is checked does not shrink on a slow machine: every churner
            // completes at least MEMBERSHIPS memberships, and keeps going until MESSAGES have been published.
            AtomicInteger publishedSoFar = new AtomicInteger();
            CountDownLatch churning = new CountDownLatch(churners.size());
            ExecutorService threads = Executors.newFixedThreadPool(churners.size() + 1);
            Future<Integer> published = threads.submit(() -> {
                int n = 0;
                while (churning.getCount() > 0) {
                    publisher.say(rooms.get(n % rooms.size()), "p" + n, "message " + n);
                    publishedSoFar.set(++n);
                    if (n % 10 == 0) {
                        // At most about 1,000 a second: more only slows the joins the test is waiting for.
                        Thread.sleep(10);
                    }
                }
                return n;
            });
            // Each churner reads its own stream as it goes, so that it knows how many of its joins
            // completed: a leave sent while the join is still being served cancels it, and how often
            // that happens depends on the machine's speed. Every other join waits for its answer.
            List<List<JsonNode>> streams = new ArrayList<>();
            List<Future<Integer>> leaves = new ArrayList<>();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            for (int i = 0; i < churners.size(); i++) {
                WsClient c = churners.get(i);
                Random random = new Random(i);
                List<JsonNode> stream = new ArrayList<>();
                streams.add(stream);
                leaves.add(threads.submit(() -> {
                    int cycles = 0;
                    try {
                        while (joined(stream) < MEMBERSHIPS || publishedSoFar.get() < MESSAGES) {
                            assertThat(System.nanoTime()).as("churning within a minute").isLessThan(deadline);
                            String room = rooms.get(random.nextInt(rooms.size()));
                            c.send(Map.of("type", "join", "room", room));
                            if (cycles % 2 == 0) {
                                stream.addAll(c.everythingUntil(
                                        m -> m.path("type").asText().equals("joined") && m.path("room").asText().equals(room)));
                            }
                            Thread.sleep(random.nextInt(60));
                            c.send(Map.of("type", "leave", "room", room));
                            cycles++;
                            Thread.sleep(random.nextInt(10));
                            stream.addAll(c.drain(Duration.ZERO));
                        }
                    } finally {
                        churning.countDown();
                    }
                    return cycles;
                }));
            }
            int sent = published.get();
            List<Integer> leavesSent = new ArrayList<>();
            for (Future<Integer> f : leaves) {
                leavesSent.add(f.get());
            }
            threads.shutdown();

            assertThat(publisher.collect("ack", sent)).hasSize(sent);
            // Each churner's stream ends with the answer to its last leave; what comes after it would be
            // a delivery after a membership ended, so a last short look at everything still arriving.
            for (int i = 0; i < churners.size(); i++) {
                List<JsonNode> stream = streams.get(i);
                int[] lefts = {(int) stream.stream().filter(m -> m.path("type").asText().equals("left")).count()};
                int all = leavesSent.get(i);
                if (lefts[0] < all) {
                    stream.addAll(churners.get(i).everythingUntil(
                            m -> m.path("type").asText().equals("left") && ++lefts[0] == all));
                }
            }
            Thread.sleep(200);
            for (int i = 0; i < churners.size(); i++) {
                streams.get(i).addAll(churners.get(i).drain(Duration.ZERO));
            }
            int checkedMemberships = 0;
            int checkedMessages = 0;
            for (List<JsonNode> stream : streams) {
                Map<String, Long> expected = new HashMap<>();
                for (JsonNode m : stream) {
                    String type = m.path("type").asText();
                    String room = m.path("room").asText();
                    switch (type) {
                        case "joined" -> {
                            assertThat(expected).doesNotContainKey(room);
                            long seq = m.get("seq").asLong();
                            JsonNode history = m.get("history");
                            if (!history.isEmpty()) {
                                assertThat(history.get(history.size() - 1).get("seq").asLong()).isEqualTo(seq);
                            }
                            expected.put(room, seq + 1);
                            checkedMemberships++;
                        }
                        case "left" -> expected.remove(room);
                        case "message" -> {
                            assertThat(expected).as("message for %s outside a membership: %s", room, m).containsKey(room);
                            assertThat(m.get("seq").asLong()).as("next seq in %s", room).isEqualTo(expected.get(room));
                            expected.put(room, expected.get(room) + 1);
                            checkedMessages++;
                        }
                        case "presence" -> assertThat(expected).as("presence outside a membership").containsKey(room);
                        case "error" -> throw new AssertionError("unexpected error " + m);
                        default -> { }
                    }
                }
            }
            System.out.printf("churn: %d sent, %d memberships and %d deliveries checked%n",
                    sent, checkedMemberships, checkedMessages);
            assertThat(checkedMemberships).isGreaterThanOrEqualTo(MEMBERSHIPS * churners.size());
            assertThat(checkedMessages).isGreaterThan(1000);
            publisher.close();
            churners.forEach(WsClient::close);
        }
    }

    private static long joined(List<JsonNode> stream) {
        return stream.stream().filter(m -> m.path("type").asText().equals("joined")).count();
    }
}
