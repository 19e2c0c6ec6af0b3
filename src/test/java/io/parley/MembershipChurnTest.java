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
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Members join and leave rooms at random while messages flow. For every membership, the stream a
 * client receives is checked: after {@code joined} with seq S come exactly S+1, S+2, ... with no gap and
 * no duplicate, nothing for the room before its {@code joined}, and nothing after its {@code left}.
 */
class MembershipChurnTest {

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
            AtomicBoolean running = new AtomicBoolean(true);
            ExecutorService threads = Executors.newFixedThreadPool(churners.size() + 1);
            Future<Integer> published = threads.submit(() -> {
                int n = 0;
                while (running.get()) {
                    publisher.say(rooms.get(n % rooms.size()), "p" + n, "message " + n);
                    n++;
                    if (n % 20 == 0) {
                        Thread.sleep(2);
                    }
                }
                return n;
            });
            List<Future<?>> churning = new ArrayList<>();
            for (int i = 0; i < churners.size(); i++) {
                WsClient c = churners.get(i);
                Random random = new Random(i);
                churning.add(threads.submit(() -> {
                    while (running.get()) {
                        String room = rooms.get(random.nextInt(rooms.size()));
                        c.send(Map.of("type", "join", "room", room));
                        Thread.sleep(random.nextInt(60));
                        c.send(Map.of("type", "leave", "room", room));
                        Thread.sleep(random.nextInt(10));
                    }
                    return null;
                }));
            }
            Thread.sleep(4000);
            running.set(false);
            int sent = published.get();
            for (Future<?> f : churning) {
                f.get();
            }
            threads.shutdown();

            assertThat(publisher.collect("ack", sent)).hasSize(sent);
            int checkedMemberships = 0;
            int checkedMessages = 0;
            for (WsClient c : churners) {
                Map<String, Long> expected = new HashMap<>();
                for (JsonNode m : c.drain(Duration.ofSeconds(1))) {
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
            assertThat(checkedMemberships).isGreaterThan(100);
            assertThat(checkedMessages).isGreaterThan(1000);
            publisher.close();
            churners.forEach(WsClient::close);
        }
    }
}
