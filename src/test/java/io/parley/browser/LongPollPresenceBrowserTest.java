package io.parley.browser;

import io.parley.testing.TestServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Presence leases and the browser client together (issue 11): a guest whose page can only long-poll (its
 * WebSockets fail, as behind a proxy that drops the upgrade) is a member by name for a page on WebSocket,
 * held by its waiting polls and renewed by each new one, without joined/left flapping; and it leaves once
 * it stops polling. A presence grace of 2 s (instead of 10) makes a lease that lapses between or during
 * polls show within the test.
 */
class LongPollPresenceBrowserTest {

    private static final Duration GRACE = Duration.ofSeconds(2);

    @TempDir
    Path dir;

    @RegisterExtension
    final Pages pages = new Pages();

    @Test
    void aLongPollingGuestIsListedByNameAndDoesNotFlapWhilePolling() throws Exception {
        TestServer server = pages.closedAfter(TestServer.start(dir, c -> c.withPresenceGrace(GRACE)));
        ChatPage ada = pages.joined(server.httpUri("/"), "ada", "lobby");
        ChatPage carl = pages.open(server.httpUri("/"), ChatPage.FORCE_LONG_POLLING);
        carl.join("carl", "lobby");
        carl.awaitTransport("longpoll");
        assertThat(ada.transport()).isEqualTo("websocket");

        ada.await("carl in ada's member list", d -> ada.memberNames().equals(List.of("ada", "carl")));
        carl.await("ada in carl's member list", d -> carl.memberNames().contains("ada"));

        // Each message ends carl's waiting poll and starts the next one: leases renewed poll after poll.
        for (int i = 1; i <= 3; i++) {
            ada.say("poll " + i);
            carl.awaitText("poll " + i);
        }
        carl.say("from carl, polling");
        ada.awaitText("from carl, polling");
        // Then a quiet stretch of more than twice the grace: carl's one poll waits all along and holds him.
        Instant quietUntil = Instant.now().plus(GRACE.multipliedBy(3));
        ada.await("a quiet stretch of " + GRACE.multipliedBy(3).toSeconds() + " s", GRACE.multipliedBy(6), d -> {
            assertThat(ada.presenceLines()).as("ada's presence lines while carl polls")
                    .containsExactly("ada joined", "carl joined");
            return Instant.now().isAfter(quietUntil);
        });
        assertThat(ada.memberNames()).containsExactly("ada", "carl");
        assertThat(carl.transport()).as("carl never got a WebSocket").isEqualTo("longpoll");

        carl.leave("lobby"); // no more polls: the lease lapses one grace after the last
        ada.await("carl left", d -> ada.presenceLines().equals(List.of("ada joined", "carl joined", "carl left")));
        assertThat(ada.memberNames()).containsExactly("ada");
    }
}
