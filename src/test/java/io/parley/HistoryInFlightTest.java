package io.parley;

import com.fasterxml.jackson.databind.JsonNode;
import io.parley.store.HistoryStore;
import io.parley.store.StoredMessage;
import io.parley.testing.TestServer;
import io.parley.testing.WsClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * One connection may have 4 {@code history} requests unanswered; one more is refused at once with
 * {@code rate_limited}, and the connection stays usable.
 */
class HistoryInFlightTest {

    private static final String ROOM = "archive";
    private static final int REQUESTS = 30;

    @TempDir
    Path dir;

    @Test
    void aFifthHistoryRequestWhileFourAreUnansweredIsToldToWait() throws Exception {
        try (HistoryStore store = HistoryStore.openSqlite(dir, false)) {
            List<StoredMessage> batch = new ArrayList<>();
            long now = System.currentTimeMillis();
            for (int seq = 1; seq <= 3000; seq++) {
                batch.add(new StoredMessage(ROOM, seq, "m" + seq, "guest:filler", "filler", "x".repeat(200), now));
            }
            store.append(batch);
        }
        try (TestServer server = TestServer.start(dir);
             WsClient reader = WsClient.hello(server.chatUri(), "reader")) {
            reader.join(ROOM);
            // Reads of 500 messages from disk, sent back to back: the first are still being read when the
            // later ones arrive.
            for (int i = 0; i < REQUESTS; i++) {
                reader.sendRaw("{\"type\":\"history\",\"room\":\"" + ROOM + "\",\"before\":" + (2900 - i * 50)
                        + ",\"limit\":500,\"ref\":" + i + "}");
            }
            List<JsonNode> replies = reader.take(REQUESTS, m -> m.has("ref"));
            List<JsonNode> refused = replies.stream().filter(m -> m.path("type").asText().equals("error")).toList();
            long answered = replies.stream().filter(m -> m.path("type").asText().equals("history")).count();
            System.out.printf("history in flight: %d answered, %d refused%n", answered, refused.size());

            assertThat(answered).as("history replies").isGreaterThanOrEqualTo(4);
            assertThat(refused).as("requests refused while 4 were unanswered").isNotEmpty().allSatisfy(e -> {
                assertThat(e.path("code").asText()).isEqualTo("rate_limited");
                assertThat(e.path("request").asText()).isEqualTo("history");
                assertThat(e.path("message").asText()).contains("unanswered");
            });

            // Once answered, the connection reads history again.
            reader.send(Map.of("type", "history", "room", ROOM, "before", 100, "limit", 10, "ref", "again"));
            JsonNode again = reader.expect("history", m -> m.path("ref").asText().equals("again"));
            assertThat(again.path("messages")).hasSize(10);
        }
    }
}
