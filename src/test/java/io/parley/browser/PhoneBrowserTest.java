package io.parley.browser;

import io.parley.testing.TestServer;
import io.parley.testing.WsClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The browser client on a phone-sized screen (390x844 CSS pixels) and on a desktop: the join form
 * gets out of the way once joined, and the newest message stays in view when the on-screen keyboard
 * takes the lower part of the screen (here: the window shrinks, as the visual viewport does). Leaves
 * screenshots of both sizes in target/browser-artifacts/.
 */
class PhoneBrowserTest {

    @TempDir
    Path dir;

    @RegisterExtension
    final Pages pages = new Pages();

    private static void chatter(TestServer server, int count) {
        try (WsClient bob = WsClient.hello(server.chatUri(), "bob")) {
            bob.join("lobby");
            for (int i = 1; i <= count; i++) {
                bob.say("lobby", "b" + i, "message " + i + " from bob, long enough to wrap on a narrow screen");
            }
            bob.collect("ack", count);
        }
    }

    /** A page of the given size, with a server behind it where bob has said {@code count} things. */
    private ChatPage pageWithChatter(int width, int height, int count) throws Exception {
        TestServer server = pages.closedAfter(TestServer.start(dir));
        chatter(server, count);
        ChatPage page = pages.open(server.httpUri("/"));
        page.resize(width, height);
        return page;
    }

    @Test
    void onAPhoneTheFormGivesWayAndTheNewestMessageStaysInViewWhenTheKeyboardOpens() throws Exception {
        ChatPage ada = pageWithChatter(390, 844, 15);
        ada.screenshot("phone-390x844-before-joining");
        ada.join("ada", "lobby");
        assertThat(ada.joinFormShown()).isFalse();
        ada.say("the newest, from ada");
        ada.awaitText("the newest, from ada");
        ada.await("the newest message in view", d -> ada.newestInView());
        ada.screenshot("phone-390x844");
        // The keyboard opens: about 330 px of the screen go to it.
        ada.resize(390, 514);
        ada.await("the newest message still in view", d -> ada.newestInView());
        ada.screenshot("phone-390x844-keyboard-open");
    }

    @Test
    void onADesktopRoomsAndMembersSitBesideTheMessages() throws Exception {
        ChatPage ada = pageWithChatter(1280, 800, 5);
        ada.join("ada", "lobby");
        ada.joinAnother("dev");
        ada.show("lobby");
        ada.awaitText("message 5 from bob, long enough to wrap on a narrow screen");
        ada.await("ada listed", d -> ada.memberNames().contains("ada"));
        assertThat(ada.newestInView()).isTrue();
        ada.screenshot("desktop-1280x800");
    }
}
