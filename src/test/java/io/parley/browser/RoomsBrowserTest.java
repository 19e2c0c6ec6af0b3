package io.parley.browser;

import io.parley.browser.ChatPage.Line;
import io.parley.browser.ChatPage.RoomEntry;
import io.parley.config.ServerConfig;
import io.parley.testing.TestServer;
import io.parley.testing.WsClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.UnaryOperator;
import java.util.stream.LongStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;

/**
 * Several rooms in one page (issue 11, "The browser client"): joined at once on one connection,
 * unread counts, joined again after a reload without a click, paging back through history, and
 * members by name without repeated "joined" lines.
 */
class RoomsBrowserTest {

    @TempDir
    Path dir;

    @RegisterExtension
    final Pages pages = new Pages();

    private TestServer start(UnaryOperator<ServerConfig> config) throws Exception {
        return pages.closedAfter(TestServer.start(dir, config));
    }

    private static RoomEntry entry(ChatPage page, String room) {
        return page.rooms().stream().filter(r -> r.room().equals(room)).findFirst().orElse(null);
    }

    /** Ada's page, in the lobby and then in dev, on one connection. */
    private ChatPage inLobbyAndDev(TestServer server) throws Exception {
        ChatPage ada = pages.open(server.httpUri("/"));
        ada.join("ada", "lobby");
        ada.joinAnother("dev");
        return ada;
    }

    @Test
    void twoRoomsOnOnePageCountWhatIsUnreadInTheOneNotShown() throws Exception {
        TestServer server = start(c -> c);
        ChatPage ada = inLobbyAndDev(server);
        assertThat(ada.joinFormShown()).as("the join form gave way after joining").isFalse();
        assertThat(ada.rooms()).extracting(RoomEntry::room, RoomEntry::joined, RoomEntry::active)
                .startsWith(tuple("lobby", true, false),
                        tuple("dev", true, true));
        try (WsClient bob = WsClient.hello(server.chatUri(), "bob")) {
            bob.join("lobby");
            bob.join("dev");
            bob.say("lobby", "l1", "in the lobby 1");
            bob.say("lobby", "l2", "in the lobby 2");
            bob.say("dev", "d1", "in dev");
            bob.collect("ack", 3);
        }
        ada.awaitText("in dev");
        ada.await("two unread in the lobby", d -> entry(ada, "lobby").unread() == 2);
        assertThat(entry(ada, "dev").unread()).as("the room shown has nothing unread").isZero();
        assertThat(ada.script("return document.title")).isEqualTo("(2) Parley");
        ada.show("lobby");
        ada.awaitText("in the lobby 2");
        assertThat(ada.messages()).extracting(Line::text).containsExactly("in the lobby 1", "in the lobby 2");
        assertThat(entry(ada, "lobby").unread()).isZero();
        // Sending goes to the room shown.
        ada.say("from ada to the lobby");
        ada.awaitText("from ada to the lobby");
        ada.show("dev");
        assertThat(ada.messages()).extracting(Line::text).containsExactly("in dev");
    }

    @Test
    void aReloadJoinsTheSameRoomsAgainWithoutAClick() throws Exception {
        TestServer server = start(c -> c);
        ChatPage ada = inLobbyAndDev(server);
        ada.show("lobby");
        ada.reload();
        ada.awaitConnected();
        assertThat(ada.joinFormShown()).isFalse();
        assertThat(ada.rooms()).extracting(RoomEntry::room, RoomEntry::joined, RoomEntry::active)
                .startsWith(tuple("lobby", true, true),
                        tuple("dev", true, false));
        try (WsClient bob = WsClient.hello(server.chatUri(), "bob")) {
            bob.join("dev");
            bob.say("dev", "d1", "after the reload");
            bob.expect("ack");
        }
        ada.await("one unread in dev", d -> entry(ada, "dev").unread() == 1);
        ada.say("still ada");
        assertThat(ada.awaitText("still ada").from()).isEqualTo("ada");
    }

    @Test
    void scrollingUpPagesBackToTheStartOfTheRoom() throws Exception {
        TestServer server = start(TestServer.UNTHROTTLED);
        int count = 180; // more than a join carries and than several pages back
        try (WsClient bob = WsClient.hello(server.chatUri(), "bob")) {
            bob.join("lobby");
            for (int i = 1; i <= count; i++) {
                bob.say("lobby", "m" + i, "old " + i);
            }
            bob.collect("ack", count);
        }
        ChatPage ada = pages.open(server.httpUri("/"));
        ada.join("ada", "lobby");
        ada.awaitText("old " + count);
        assertThat(ada.messages().size()).as("a join shows only the latest").isLessThan(count);
        ada.await("every message back to the first", d -> {
            ada.scrollToTop();
            return ada.messages().size() == count;
        });
        assertThat(ada.messages()).extracting(Line::seq)
                .containsExactlyElementsOf(LongStream.rangeClosed(1, count).boxed().toList());
        assertThat(ada.script("return document.getElementById('older').dataset.state")).isEqualTo("start");
    }

    /**
     * A presence grace of 3 s instead of the default 10: bob's second connection and then bob himself
     * linger in the list for a grace each before they go, and waiting out two 10 s graces was most of
     * this test's time. Ada's page is back within about a second of its relay coming up.
     */
    @Test
    void membersAreListedByNameAndAReconnectPrintsNoJoinedLine() throws Exception {
        TestServer server = start(c -> c.withPresenceGrace(Duration.ofSeconds(3)));
        Relay relay = pages.closedAfter(new Relay(server.port()));
        ChatPage ada = pages.open(relay.uri("/"));
        ada.join("ada", "lobby");
        ada.await("ada listed", d -> ada.memberNames().equals(List.of("ada")));
        try (WsClient bob = WsClient.hello(server.chatUri(), "bob")) {
            bob.join("lobby");
            ada.await("bob listed", d -> ada.memberNames().equals(List.of("ada", "bob")));
            try (WsClient bobAgain = WsClient.hello(server.chatUri(), "bob")) {
                bobAgain.join("lobby");
                ada.await("bob twice", d -> ada.memberNames().equals(List.of("ada", "bob×2")));
            }
            ada.await("bob once again", d -> ada.memberNames().equals(List.of("ada", "bob")));
            assertThat(ada.presenceLines()).as("a second connection is no news").containsExactly("ada joined", "bob joined");

            relay.down();
            ada.await("the page to notice", d -> !"connected".equals(
                    ada.script("return document.getElementById('status').dataset.state")));
            relay.to(server.port());
            ada.awaitConnected();
            bob.say("lobby", "b1", "after ada's reconnect");
            ada.awaitText("after ada's reconnect");
            ada.await("ada and bob listed", d -> ada.memberNames().equals(List.of("ada", "bob")));
            assertThat(ada.presenceLines()).as("the reconnect printed nothing").containsExactly("ada joined", "bob joined");
        }
        ada.await("bob left", d -> ada.presenceLines().equals(List.of("ada joined", "bob joined", "bob left")));
        assertThat(ada.memberNames()).containsExactly("ada");
    }
}
