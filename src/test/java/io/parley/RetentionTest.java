package io.parley;

import com.fasterxml.jackson.databind.JsonNode;
import io.parley.config.ServerConfig;
import io.parley.testing.ApiClient;
import io.parley.testing.TestServer;
import io.parley.testing.WsClient;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Retention and recovery (docs/PROTOCOL.md, "Recovery and idempotency"): a room keeps at least the
 * configured number of messages; a client re-joining from before the oldest is told
 * {@code recovered: false} and gets what is left from {@code firstSeq}, never a silent gap.
 */
class RetentionTest {

    static final String ROOM = "busy";
    static final int SENT = 1300;

    @TempDir
    static Path dir;
    static TestServer server;
    static ApiClient api;

    @BeforeAll
    static void fillARoomPastItsRetention() throws Exception {
        server = TestServer.start(dir, c -> TestServer.UNTHROTTLED.apply(c).withRetention(ServerConfig.MIN_RETAIN));
        api = new ApiClient(server.port());
        try (WsClient writer = WsClient.hello(server.chatUri(), "writer")) {
            writer.join(ROOM);
            for (int i = 1; i <= SENT; i++) {
                writer.say(ROOM, "m" + i, "message " + i);
            }
            JsonNode last = writer.expect("ack", m -> m.path("id").asText().equals("m" + SENT));
            assertThat(last.path("seq").asLong()).isEqualTo(SENT);
        }
    }

    @AfterAll
    static void stop() {
        api.close();
        server.close();
    }

    private static JsonNode rejoin(long since) {
        try (WsClient c = WsClient.hello(server.chatUri(), "reader")) {
            return c.join(ROOM, since);
        }
    }

    private static List<Long> seqs(JsonNode messages) {
        List<Long> out = new ArrayList<>();
        messages.forEach(m -> out.add(m.path("seq").asLong()));
        return out;
    }

    @Test
    void aRoomKeepsAtLeastWhatItRetainsAndForgetsTheOldest() {
        JsonNode joined = rejoin(SENT - 1);
        long firstSeq = joined.path("firstSeq").asLong();

        assertThat(joined.path("seq").asLong()).isEqualTo(SENT);
        assertThat(firstSeq).isGreaterThan(1);
        assertThat(SENT - firstSeq + 1).as("messages still stored").isGreaterThanOrEqualTo(ServerConfig.MIN_RETAIN);
    }

    @Test
    void aRejoinFromAForgottenSeqIsToldItWasNotRecoveredAndGetsWhatIsLeft() {
        try (WsClient c = WsClient.hello(server.chatUri(), "late")) {
            JsonNode joined = c.join(ROOM, 5);
            long firstSeq = joined.path("firstSeq").asLong();

            assertThat(joined.path("recovered").isBoolean()).as(joined.toString()).isTrue();
            assertThat(joined.path("recovered").asBoolean()).isFalse();
            assertThat(firstSeq).isGreaterThan(6);
            List<Long> history = seqs(joined.path("history"));
            assertThat(history).isNotEmpty();
            assertThat(history.getFirst()).isEqualTo(firstSeq);

            // The rest follows without a gap, page by page.
            List<Long> all = new ArrayList<>(history);
            boolean complete = joined.path("complete").asBoolean();
            while (!complete) {
                c.send(Map.of("type", "history", "room", ROOM, "since", all.getLast(), "limit", 500));
                List<Long> page = seqs(c.expect("history").path("messages"));
                all.addAll(page);
                complete = page.isEmpty() || all.getLast() == SENT;
            }
            assertThat(all).hasSize((int) (SENT - firstSeq + 1));
            assertThat(all.getLast()).isEqualTo(SENT);
            for (int i = 1; i < all.size(); i++) {
                assertThat(all.get(i)).isEqualTo(all.get(i - 1) + 1);
            }
        }
    }

    @Test
    void aRejoinFromAStillStoredSeqIsRecovered() {
        JsonNode recent = rejoin(SENT - 10);
        assertThat(recent.path("recovered").asBoolean(false)).as(recent.toString()).isTrue();
        assertThat(seqs(recent.path("history"))).containsExactly(1291L, 1292L, 1293L, 1294L, 1295L, 1296L, 1297L,
                1298L, 1299L, 1300L);

        // The oldest point it can continue from: the message right before firstSeq is gone, but the
        // client has it, so nothing is missing.
        long firstSeq = recent.path("firstSeq").asLong();
        JsonNode edge = rejoin(firstSeq - 1);
        assertThat(edge.path("recovered").asBoolean(false)).as("since = firstSeq - 1").isTrue();
        assertThat(seqs(edge.path("history")).getFirst()).isEqualTo(firstSeq);

        JsonNode justPast = rejoin(firstSeq - 2);
        assertThat(justPast.path("recovered").asBoolean(true)).as("since = firstSeq - 2").isFalse();
        assertThat(seqs(justPast.path("history")).getFirst()).isEqualTo(firstSeq);
    }

    @Test
    void anHttpPollReportsRecoveryTheSameWay() {
        long firstSeq = rejoin(SENT - 1).path("firstSeq").asLong();

        JsonNode lost = ApiClient.json(api.get("/api/rooms/" + ROOM + "/messages?since=5"));
        assertThat(lost.path("recovered").asBoolean(true)).as(lost.toString()).isFalse();
        assertThat(lost.path("firstSeq").asLong()).isEqualTo(firstSeq);
        assertThat(lost.path("seq").asLong()).isEqualTo(SENT);
        assertThat(lost.path("complete").asBoolean(true)).isFalse();
        assertThat(seqs(lost.path("messages")).getFirst()).isEqualTo(firstSeq);

        JsonNode kept = ApiClient.json(api.get("/api/rooms/" + ROOM + "/messages?since=" + (SENT - 10)));
        assertThat(kept.path("recovered").asBoolean(false)).as(kept.toString()).isTrue();
        assertThat(kept.path("complete").asBoolean(false)).isTrue();
        assertThat(kept.path("firstSeq").asLong()).isEqualTo(firstSeq);
        assertThat(seqs(kept.path("messages"))).hasSize(10).startsWith((long) SENT - 9);
    }
}
