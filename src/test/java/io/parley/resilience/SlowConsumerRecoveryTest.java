package io.parley.resilience;

import com.fasterxml.jackson.databind.JsonNode;
import io.parley.testing.RawSocket;
import io.parley.testing.TestServer;
import io.parley.testing.WsClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.EOFException;
import java.net.SocketException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.LongStream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A client that stops reading is closed with 1013 and loses nothing by it: the others in the room keep
 * receiving every message in order, and when it comes back and re-joins with {@code since} set to the
 * last seq it read, it gets exactly the messages it missed, then the live ones.
 */
class SlowConsumerRecoveryTest {

    /** Messages published after the server gave up on the stalled client: what it must catch up on, at least. */
    private static final int AFTER_THE_CLOSE = 500;

    @TempDir
    Path dir;

    @Test
    void aClosedSlowConsumerGetsExactlyWhatItMissedAfterReJoiningWithSince() throws Exception {
        // A small outbound limit so that a few megabytes overflow it; rate limits off to publish them quickly.
        try (TestServer server = TestServer.start(dir, c -> TestServer.UNTHROTTLED.apply(c)
                .withLimits(c.maxFrameBytes(), 2000, 256 * 1024));
             RawSocket stalled = new RawSocket(server.port(), 4096);
             WsClient ada = WsClient.hello(server.chatUri(), "ada");
             WsClient bob = WsClient.hello(server.chatUri(), "bob")) {
            stalled.upgrade();
            stalled.text("{\"type\":\"hello\",\"name\":\"stalled\"}");
            stalled.text("{\"type\":\"join\",\"room\":\"lobby\"}");
            assertThat(stalled.readText()).contains("welcome");
            assertThat(stalled.readText()).contains("joined");
            ada.join("lobby");
            bob.join("lobby");

            // The stalled client reads nothing while megabytes are published...
            String text = "y".repeat(1990);
            AtomicBoolean givenUp = new AtomicBoolean();
            Map<Long, String> idBySeq = new ConcurrentHashMap<>();
            ExecutorService publisher = Executors.newSingleThreadExecutor();
            Future<Integer> published = publisher.submit(() -> {
                // A window of unacknowledged sends keeps the count published close to the count stored.
                int n = 0;
                for (int after = 0; after < AFTER_THE_CLOSE; n++) {
                    while (n - idBySeq.size() >= 64) {
                        JsonNode ack = ada.expect("ack");
                        idBySeq.put(ack.get("seq").asLong(), ack.get("id").asText());
                    }
                    ada.say("lobby", "m" + n, n + " " + text);
                    if (givenUp.get()) {
                        after++;
                    }
                }
                while (idBySeq.size() < n) {
                    JsonNode ack = ada.expect("ack");
                    idBySeq.put(ack.get("seq").asLong(), ack.get("id").asText());
                }
                return n;
            });
            // ...until the server gives up on it; then it reads at once, and finds what fitted in the
            // buffers, then 1013. (Had it waited longer, the server would have dropped the connection
            // without a close frame: one cannot be delivered to a client that does not read.)
            assertThat(server.log().await("closing slow consumer", Duration.ofSeconds(60))).as("slow consumer closed").isTrue();
            givenUp.set(true);
            List<Long> before = new ArrayList<>();
            int closeCode = readUntilClosed(stalled, before);
            final int count = published.get();
            publisher.shutdown();
            List<JsonNode> bobs = bob.collect("message", count);
            assertThat(bobs).extracting(m -> m.get("seq").asLong()).as("bob, reading all along")
                    .containsExactlyElementsOf(LongStream.rangeClosed(1, count).boxed().toList());
            assertThat(bob.isClosed()).isFalse();

            assertThat(closeCode).as("close code for the slow consumer").isEqualTo(1013);
            assertThat(before).as("seqs read before the close")
                    .containsExactlyElementsOf(LongStream.rangeClosed(1, before.size()).boxed().toList());
            long last = before.isEmpty() ? 0 : before.getLast();

            // It comes back and asks for what it missed, paging on while the reply is not complete.
            try (WsClient back = WsClient.hello(server.chatUri(), "stalled")) {
                JsonNode joined = back.join("lobby", last);
                assertThat(joined.path("recovered").asBoolean(true)).isTrue();
                List<JsonNode> missed = new ArrayList<>();
                joined.get("history").forEach(missed::add);
                int pages = 0;
                long seen = missed.isEmpty() ? last : missed.getLast().get("seq").asLong();
                while (seen < joined.get("seq").asLong()) {
                    back.send(Map.of("type", "history", "room", "lobby", "since", seen, "limit", 500));
                    JsonNode page = back.expect("history");
                    assertThat(page.get("messages")).as("history page after %d", seen).isNotEmpty();
                    for (JsonNode m : page.get("messages")) {
                        if (m.get("seq").asLong() > seen) {
                            missed.add(m);
                            seen = m.get("seq").asLong();
                        }
                    }
                    pages++;
                }
                assertThat(missed).extracting(m -> m.get("seq").asLong()).as("seqs received after re-joining")
                        .containsExactlyElementsOf(LongStream.rangeClosed(last + 1, count).boxed().toList());
                assertThat(missed).allSatisfy(m -> assertThat(m.get("id").asText())
                        .isEqualTo(idBySeq.get(m.get("seq").asLong())));

                ada.say("lobby", "after", "live again");
                assertThat(back.expect("message").get("seq").asLong()).as("the next live message").isEqualTo(count + 1);
                assertThat(bob.expect("message").get("seq").asLong()).isEqualTo(count + 1);
                System.out.printf("slow consumer: read %d before 1013, got %d after re-joining (%d history pages),"
                        + " bob got all %d in order%n", before.size(), missed.size(), pages, count);
            }
        }
    }

    /** Reads message frames until the close frame; returns its code, or -1 if the connection just ends. */
    private static int readUntilClosed(RawSocket socket, List<Long> seqs) throws Exception {
        try {
            while (true) {
                RawSocket.Frame f = socket.readFrame();
                if (f.opcode() == RawSocket.CLOSE) {
                    return f.closeCode();
                }
                if (f.opcode() == RawSocket.TEXT) {
                    JsonNode m = WsClient.JSON.readTree(f.text());
                    if ("message".equals(m.path("type").asText())) {
                        seqs.add(m.get("seq").asLong());
                    }
                }
            }
        } catch (EOFException | SocketException e) {
            return -1;
        }
    }
}
