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
        try (TestServer server = TestServer.start(dir, c -> TestServer.UNTHROTTLED.apply(c).withLimits(c.maxFrameBytes(), 2000, 256 * 1024));
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
            // By the time bob has 1500 messages (3 MB), the stalled client is far past four times its
            // 256 KiB limit and has been closed. It reads again at once: the close frame waits behind
            // what was queued before it, and the server gives a client 2 s to take it.
            assertThat(bob.collect("message", 1500)).hasSize(1500);
            stalled.timeout(20_000);
            assertThat(stalled.awaitClose()).isEqualTo(1013);

            assertThat(bob.collect("message", count - 1500)).hasSize(count - 1500);
            assertThat(ada.collect("ack", count)).hasSize(count);
        }
    }
}
