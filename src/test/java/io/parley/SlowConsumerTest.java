package io.parley;

import io.parley.testing.RawSocket;
import io.parley.testing.TestServer;
import io.parley.testing.WsClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

class SlowConsumerTest {

    @TempDir
    Path dir;

    @Test
    void aClientThatStopsReadingIsClosedWith1013AndOthersKeepReceiving() throws Exception {
        try (TestServer server = TestServer.start(dir, c -> c.withLimits(c.maxFrameBytes(), 2000, 256 * 1024));
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

            // The stalled client reads nothing more while a few megabytes are published.
            String text = "y".repeat(2000);
            int count = 4000;
            for (int i = 0; i < count; i++) {
                ada.say("lobby", "m" + i, text);
            }
            assertThat(bob.collect("message", count)).hasSize(count);
            assertThat(ada.collect("ack", count)).hasSize(count);

            // Reading now finds what fitted in the buffers, then the close frame.
            stalled.timeout(20_000);
            assertThat(stalled.awaitClose()).isEqualTo(1013);
        }
    }
}
