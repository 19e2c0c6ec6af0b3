package io.parley.resilience;

import io.parley.testing.AttackTarget;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Issue 8, finding 1: four connections that never said hello send pings with 125-byte payloads and
 * never read. Netty used to answer each with a pong past the frame rate limit and the backlog check;
 * with -Xmx1g the server stopped answering within 15 s and then died of an OutOfMemoryError. Now each
 * attacker is closed with 1008 once over the frame rate, and the server goes on serving.
 */
class HostilePingFloodTest {

    private static final Duration ATTACK = Duration.ofSeconds(12);

    @TempDir
    Path dir;

    @Test
    void fourClientsThatPingAndNeverReadAreClosedWhileOthersChat() throws Exception {
        try (AttackTarget target = AttackTarget.start(dir)) {
            target.assertServing();
            long checks = 0;
            long maxRss = 0;
            PingFlood flood = PingFlood.start(target.port(), 4);
            try {
                long end = System.nanoTime() + ATTACK.toNanos();
                while (System.nanoTime() < end) {
                    target.assertServing();
                    maxRss = Math.max(maxRss, target.rssBytes());
                    checks++;
                }
            } finally {
                flood.close();
            }
            System.out.printf("ping flood: %d connections, %d closed by the server, %d MB of pings sent;"
                            + " %d checks during it, max RSS %d MB%n", flood.connections(), flood.closedByServer(),
                    flood.bytesSent() >> 20, checks, maxRss >> 20);
            assertThat(flood.closedByServer()).as("attacking connections the server closed").isGreaterThanOrEqualTo(4);
            target.assertServing();
        }
    }
}
