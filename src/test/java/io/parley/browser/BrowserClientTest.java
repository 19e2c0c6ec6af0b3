package io.parley.browser;

import com.fasterxml.jackson.databind.JsonNode;
import io.parley.auth.Tokens;
import io.parley.browser.ChatPage.Line;
import io.parley.config.ServerConfig;
import io.parley.testing.TestServer;
import io.parley.testing.WsClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import java.util.stream.LongStream;
import java.util.stream.StreamSupport;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The browser client in a real headless Chromium against a real server: what a person sees in the
 * page. Each test leaves a screenshot of every page it opened in target/browser-artifacts/.
 */
class BrowserClientTest {

    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    private static final String SECRET = "browser-test-secret-of-at-least-32-bytes";

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
        return open(server.httpUri("/"));
    }

    private ChatPage open(URI url) throws IOException {
        ChatPage page = ChatPage.open(url);
        pages.add(page);
        return page;
    }

    /** Sends through the HTTP API as a guest, as a client behind the same blocking proxy would. */
    private static void post(TestServer server, String name, String id, String text) throws Exception {
        String body = WsClient.JSON.createObjectNode().put("id", id).put("text", text).toString();
        HttpResponse<String> response = HTTP.send(HttpRequest.newBuilder(server.httpUri("/api/rooms/lobby/messages"))
                .header("Content-Type", "application/json").header("X-Parley-Name", name)
                .timeout(Duration.ofSeconds(10)).POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    }

    /** Every text the server stores for the lobby, in seq order. */
    private static List<String> stored(TestServer server) throws Exception {
        HttpResponse<String> response = HTTP.send(HttpRequest.newBuilder(server.httpUri("/api/rooms/lobby/messages?since=0"))
                .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
        JsonNode messages = WsClient.JSON.readTree(response.body()).get("messages");
        return StreamSupport.stream(messages.spliterator(), false).map(m -> m.get("text").asText()).toList();
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

    @Test
    void fallsBackToLongPollingWhenWebSocketIsRefusedAndReturnsToWebSocketWithoutLossOrRepeats() throws Exception {
        TestServer blocked = server(TestServer.start(dir, c -> c.withAccess(c.access().withWebSocket(false))));
        int port = blocked.port();
        ChatPage ada = open(blocked);
        ada.join("ada", "lobby");
        ada.awaitTransport("longpoll");
        assertThat(ada.transportText()).isEqualTo("long polling");

        post(blocked, "bob", "b1", "from bob over HTTP");
        assertThat(ada.awaitText("from bob over HTTP").from()).isEqualTo("bob");
        ada.say("from ada over long polling");
        ada.awaitText("from ada over long polling");
        ada.screenshot("fallsBackToLongPolling-while-polling");

        blocked.close();
        // Bob talks while ada's page cannot reach any server: on the same data, another port.
        try (TestServer meanwhile = TestServer.start(dir);
             WsClient bob = WsClient.hello(meanwhile.chatUri(), "bob")) {
            bob.join("lobby");
            bob.say("lobby", "b2", "while ada was away");
            bob.expect("ack");
        }
        TestServer open = server(TestServer.start(dir, c -> c.withPort(port)));

        ada.awaitTransport("websocket");
        ada.awaitText("while ada was away");
        ada.say("from ada over WebSocket");
        ada.awaitText("from ada over WebSocket");
        List<String> expected = List.of("from bob over HTTP", "from ada over long polling", "while ada was away",
                "from ada over WebSocket");
        assertThat(ada.messages()).extracting(Line::text).containsExactlyElementsOf(expected);
        assertThat(ada.messages()).extracting(Line::seq).containsExactly(1L, 2L, 3L, 4L);
        assertThat(stored(open)).containsExactlyElementsOf(expected);
    }

    @Test
    void aTokenInThePageAddressMakesTheSendersNameTheTokens() throws Exception {
        TestServer server = server(TestServer.start(dir, c -> c.withAccess(c.access().withTokenSecret(SECRET))));
        String token = new Tokens(SECRET).mint("u-42", "Ada Lovelace", List.of(), Duration.ofMinutes(5));
        ChatPage ada = open(server.httpUri("/#token=" + token));
        assertThat(ada.nameField()).isEqualTo("Ada Lovelace");
        ada.join(null, "lobby");
        ada.say("signed in");

        assertThat(ada.awaitText("signed in").from()).isEqualTo("Ada Lovelace");
        assertThat(ada.transport()).isEqualTo("websocket");
    }

    @Test
    void saysSoWhenMessagesItMissedAreNoLongerStored() throws Exception {
        UnaryOperator<ServerConfig> keepTheLatest1000 = c -> c.withRetention(ServerConfig.MIN_RETAIN)
                .withAdmission(c.admission().withoutRateLimits());
        TestServer first = server(TestServer.start(dir, keepTheLatest1000));
        int port = first.port();
        ChatPage ada = open(first);
        ada.join("ada", "lobby");
        ada.say("before");
        ada.awaitText("before");

        first.close();
        int missed = 1200;
        try (TestServer meanwhile = TestServer.start(dir, keepTheLatest1000);
             WsClient bob = WsClient.hello(meanwhile.chatUri(), "bob")) {
            bob.join("lobby");
            for (int i = 1; i <= missed; i++) {
                bob.say("lobby", "b" + i, "missed " + i);
            }
            bob.collect("ack", missed);
        }
        server(TestServer.start(dir, c -> keepTheLatest1000.apply(c).withPort(port)));

        ada.awaitText("missed " + missed);
        assertThat(ada.script("return document.getElementById('notice').textContent")).asString()
                .contains("no longer stored");
        List<Long> seqs = ada.messages().stream().map(Line::seq).toList();
        long firstKept = seqs.get(1);
        assertThat(firstKept).isGreaterThan(2);
        assertThat(seqs.subList(1, seqs.size())).containsExactlyElementsOf(
                LongStream.rangeClosed(firstKept, missed + 1).boxed().toList());
    }

    @Test
    void sendsRefusedAsTooFastAreSentAgainAfterTheWaitTheServerAsks() throws Exception {
        TestServer server = server(TestServer.start(dir, c -> c.withAdmission(c.admission().withRates(1, 1, 50))));
        ChatPage ada = open(server);
        ada.join("ada", "lobby");
        List<String> texts = List.of("one", "two", "three", "four");
        texts.forEach(ada::say);

        texts.forEach(ada::awaitText);
        assertThat(ada.messages()).extracting(Line::text).containsExactlyInAnyOrderElementsOf(texts);
        assertThat(stored(server)).containsExactlyInAnyOrderElementsOf(texts);
    }
}
