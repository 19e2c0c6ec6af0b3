package io.parley;

import com.fasterxml.jackson.databind.JsonNode;
import io.parley.testing.TestServer;
import io.parley.testing.WsClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

class StoreFailureTest {

    @TempDir
    Path dir;

    @Test
    void aMessageThatCannotBeStoredIsRefusedDeliveredToNobodyAndLeavesNoGap() throws Exception {
        // A short busy timeout: the refusal is the same after 200 ms as after the default 5 s.
        try (TestServer server = TestServer.start(dir,
                c -> TestServer.UNTHROTTLED.apply(c).withSqliteBusyTimeout(Duration.ofMillis(200)));
             WsClient ada = WsClient.hello(server.chatUri(), "ada");
             WsClient bob = WsClient.hello(server.chatUri(), "bob")) {
            ada.join("lobby");
            bob.join("lobby");
            ada.say("lobby", "m1", "stored");
            assertThat(ada.expect("ack").get("seq").asLong()).isEqualTo(1);
            bob.expect("message");

            // Another process holds the database's write lock past the server's busy timeout.
            try (Connection other = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("parley.db"));
                 Statement st = other.createStatement()) {
                st.execute("BEGIN EXCLUSIVE");
                long asked = System.nanoTime();
                ada.say("lobby", "m2", "cannot be stored");
                JsonNode error = ada.expect("error");
                // The store waited for the lock as long as it was told to, and no longer.
                assertThat(Duration.ofNanos(System.nanoTime() - asked))
                        .isBetween(Duration.ofMillis(190), Duration.ofSeconds(4));
                assertThat(error.get("code").asText()).isEqualTo("store_unavailable");
                assertThat(error.get("id").asText()).isEqualTo("m2");
                st.execute("ROLLBACK");
            }

            assertThat(bob.drain(Duration.ofMillis(200))).noneMatch(m -> "message".equals(m.path("type").asText()));
            ada.say("lobby", "m2", "stored on retry");
            assertThat(ada.expect("ack").get("seq").asLong()).isEqualTo(2);
            JsonNode delivered = bob.expect("message");
            assertThat(delivered.get("seq").asLong()).isEqualTo(2);
            assertThat(delivered.get("text").asText()).isEqualTo("stored on retry");
        }
    }
}
