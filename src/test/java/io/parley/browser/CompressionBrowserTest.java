package io.parley.browser;

import io.parley.testing.ChatText;
import io.parley.testing.TestServer;
import io.parley.testing.WsClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Chromium offers permessage-deflate on every WebSocket: the server accepts, and the page shows every
 * broadcast, compressed once for all, in order.
 */
class CompressionBrowserTest {

    @TempDir
    Path dir;

    private TestServer server;
    private ChatPage page;

    @BeforeEach
    void needsChromium() {
        Chromium.assumeInstalled();
    }

    @AfterEach
    void close() throws Exception {
        if (page != null) {
            page.screenshot("compression");
            page.close();
        }
        if (server != null) {
            server.close();
        }
    }

    @Test
    void chromiumNegotiatesDeflateAndShowsEveryCompressedBroadcastInOrder() throws Exception {
        server = TestServer.start(dir, TestServer.UNTHROTTLED);
        page = ChatPage.open(server.httpUri("/"));
        page.join("ada", "lobby");
        // A socket of the page's own, to read what the browser negotiated (WebDriver awaits the promise).
        Object extensions = page.script("return await new Promise((resolve, reject) => {"
                + " const ws = new WebSocket(`ws://${location.host}/chat`, 'parley.v1');"
                + " ws.onopen = () => { resolve(ws.extensions); ws.close(); };"
                + " ws.onerror = () => reject(new Error('no connection')); });");
        assertThat((String) extensions).startsWith("permessage-deflate")
                .contains("server_no_context_takeover").contains("client_no_context_takeover");

        List<String> lines = ChatText.lines(25, 11);
        try (WsClient bob = WsClient.hello(server.chatUri(), "bob")) {
            bob.join("lobby");
            for (int i = 0; i < lines.size(); i++) {
                bob.say("lobby", "b" + i, lines.get(i));
            }
            page.awaitText(lines.getLast());
        }
        assertThat(page.messages()).extracting(ChatPage.Line::text).containsExactlyElementsOf(lines);
        // The page's own message goes out compressed by Chromium and comes back to it.
        page.say("and one from the browser, long enough to be worth compressing on the way in");
        page.awaitText("and one from the browser, long enough to be worth compressing on the way in");
    }
}
