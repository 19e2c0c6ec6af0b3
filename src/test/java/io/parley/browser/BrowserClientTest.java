package io.parley.browser;

import io.parley.browser.ChatPage.Line;
import io.parley.testing.TestServer;
import io.parley.testing.WsClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The browser client in a real headless Chromium against a real server: what a person sees in the
 * page. Each test leaves a screenshot of every page it opened in target/browser-artifacts/.
 */
class BrowserClientTest {

    @TempDir
    Path dir;

    private final List<ChatPage> pages = new ArrayList<>();
    private final List<TestServer> servers = new ArrayList<>();

    /** Per test rather than per class, so that each test reports itself skipped, with the reason. */
    @BeforeEach
    void needsChromium() {
        Chromium.assumeInstalled();
    }

    @AfterEach
    void closeAll(TestInfo test) throws IOException {
        try {
            for (int i = 0; i < pages.size(); i++) {
                pages.get(i).screenshot(test.getTestMethod().orElseThrow().getName() + "-" + (i + 1));
            }
        } finally {
            pages.forEach(ChatPage::close);
            servers.forEach(TestServer::close);
        }
    }

    private ChatPage open(TestServer server) throws IOException {
        ChatPage page = ChatPage.open(server.httpUri("/"));
        pages.add(page);
        return page;
    }

    private TestServer server(TestServer started) {
        servers.add(started);
        return started;
    }

    @Test
    void twoBrowsersChatInRealTime() throws Exception {
        TestServer server = server(TestServer.start(dir));
        ChatPage ada = open(server);
        ChatPage bob = open(server);
        ada.join("ada", "lobby");
        bob.join("bob", "lobby");
        assertThat(ada.transport()).isEqualTo("websocket");
        assertThat(ada.transportText()).isEqualTo("WebSocket");

        ada.say("hi bob");
        assertThat(bob.awaitText("hi bob").from()).isEqualTo("ada");
        bob.say("hi ada");
        assertThat(ada.awaitText("hi ada").from()).isEqualTo("bob");

        ada.awaitText("hi bob");
        bob.awaitText("hi ada");
        assertThat(ada.messages()).containsExactlyElementsOf(bob.messages());
        assertThat(ada.messages()).extracting(Line::seq).containsExactly(1L, 2L);
    }

    @Test
    void markupInAMessageIsShownAsTextAndRunsNothing() throws Exception {
        TestServer server = server(TestServer.start(dir));
        ChatPage ada = open(server);
        ada.join("ada", "lobby");
        String name = "<b>mallory</b>";
        String text = "<img src=x onerror=\"window.pwned = 1\"><script>window.pwned = 2</script>"
                + "<a href=\"javascript:window.pwned = 3\">click</a> & <b>bold</b> &amp; ' \"";

        try (WsClient mallory = WsClient.hello(server.chatUri(), name)) {
            mallory.join("lobby");
            mallory.say("lobby", "x1", text);
            mallory.expect("ack");
        }

        Line line = ada.awaitText(text);
        assertThat(line.from()).isEqualTo(name);
        assertThat(ada.script("return typeof window.pwned")).isEqualTo("undefined");
        // No element was made from the markup: what the page shows is text nodes only.
        assertThat(ada.script("return document.querySelectorAll('#messages img, #messages script, "
                + "#messages a, #messages b').length")).isEqualTo(0L);
    }

    @Test
    void reconnectsAfterAServerRestartAndShowsWhatWasSentMeanwhile() throws Exception {
        TestServer first = server(TestServer.start(dir));
        int port = first.port();
        ChatPage ada = open(first);
        ada.join("ada", "lobby");
        ada.say("before the restart");
        ada.awaitText("before the restart");

        first.close();
        ada.await("the page to notice the server is gone",
                d -> !"connected".equals(ada.script("return document.getElementById('status').dataset.state")));
        // Bob talks while ada's page cannot reach any server: on the same data, another port.
        try (TestServer meanwhile = TestServer.start(dir);
             WsClient bob = WsClient.hello(meanwhile.chatUri(), "bob")) {
            bob.join("lobby");
            bob.say("lobby", "b1", "while you were away 1");
            bob.say("lobby", "b2", "while you were away 2");
            bob.collect("ack", 2);
        }
        server(TestServer.start(dir, c -> c.withPort(port)));

        ada.awaitText("while you were away 2");
        ada.awaitConnected();
        ada.say("after the restart");
        ada.awaitText("after the restart");
        assertThat(ada.messages()).extracting(Line::text).containsExactly(
                "before the restart", "while you were away 1", "while you were away 2", "after the restart");
        assertThat(ada.messages()).extracting(Line::seq).containsExactly(1L, 2L, 3L, 4L);
        assertThat(ada.transport()).isEqualTo("websocket");
    }
}
