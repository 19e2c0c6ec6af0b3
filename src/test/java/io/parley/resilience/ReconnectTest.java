package io.parley.resilience;

import io.parley.testing.TestServer;
import io.parley.testing.WsClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletionException;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Reconnecting is how a client recovers from every dropped connection (docs/PROTOCOL.md), so a client
 * that closes its connections must be able to open new ones as often as it needs: the connection limits
 * count connections that are open, not connections ever made.
 */
class ReconnectTest {

    @TempDir
    Path dir;

    @Test
    void closedConnectionsGiveTheirSlotBackSoAClientCanAlwaysReconnect() throws Exception {
        int perIp = 3;
        try (TestServer server = TestServer.start(dir,
                c -> c.withAdmission(c.admission().withConnections(100, perIp)))) {
            for (int i = 0; i < 4 * perIp; i++) {
                WsClient c;
                try {
                    c = WsClient.hello(server.chatUri(), "again" + i);
                } catch (CompletionException e) {
                    throw new AssertionError("connection #" + (i + 1) + " refused, though at most one was ever open"
                            + " and the limit per address is " + perIp + ": " + e.getCause().getCause(), e);
                }
                c.join("lobby");
                if (i % 2 == 0) {
                    c.closeCleanly(Duration.ofSeconds(2));
                } else {
                    c.abort();
                }
                // The server notices the close on its own time; give it that.
                Thread.sleep(100);
            }
            try (WsClient last = WsClient.hello(server.chatUri(), "last")) {
                assertThat(last.join("lobby").get("room").asText()).isEqualTo("lobby");
            }
        }
    }
}
