package io.parley.browser;

import com.fasterxml.jackson.databind.JsonNode;
import io.parley.auth.Tokens;
import io.parley.browser.ChatPage.Line;
import io.parley.config.ServerConfig;
import io.parley.testing.ApiClient;
import io.parley.testing.TestServer;
import io.parley.testing.WsClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.io.TempDir;

import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.UnaryOperator;
import java.util.stream.LongStream;
import java.util.stream.StreamSupport;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The browser client in a real headless Chromium against a real server: what a person sees in the
 * page. Each test leaves a screenshot of every page it opened in target/browser-artifacts/.
 *
 * <p>Tests that restart the server put a {@link Relay} between page and server, so that the page
 * keeps its address and every connection drops at the stop, as with a real process.
 */
class BrowserClientTest {

    private static final String SECRET = "browser-test-secret-of-at-least-32-bytes";

    @TempDir
    Path dir;

    private final List<ChatPage> pages = new ArrayList<>();
    private final List<AutoCloseable> closeAfter = new ArrayList<>();

    /** Per test rather than per class, so that each test reports itself skipped, with the reason. */
    @BeforeEach
    void needsChromium() {
        Chromium.assumeInstalled();
    }

    @AfterEach
    void closeAll(TestInfo test) throws Exception {
        try {
            for (int i = 0; i < pages.size(); i++) {
                pages.get(i).screenshot(test.getTestMethod().orElseThrow().getName() + "-" + (i + 1));
            }
        } finally {
            pages.forEach(ChatPage::close);
            for (AutoCloseable c : closeAfter.reversed()) {
                c.close();
            }
        }
    }

    private ChatPage open(URI url) throws IOException {
        ChatPage page = ChatPage.open(url);
        pages.add(page);
        return page;
    }

    private <T extends AutoCloseable> T closedAfter(T resource) {
        closeAfter.add(resource);
        return resource;
    }

    private TestServer start(UnaryOperator<ServerConfig> config) throws Exception {
        return closedAfter(TestServer.start(dir, config));
    }

    private TestServer start() throws Exception {
        return start(c -> c);
    }

    /** Sends through the HTTP API as a guest, as a client behind the same blocking proxy would. */
    private static void post(TestServer server, String name, String id, String text) {
        try (ApiClient api = new ApiClient(server.port())) {
            HttpResponse<String> response = api.postAs(name, "lobby", id, text);
            assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        }
    }

    /** Every text the server stores for the lobby, in seq order. */
    private static List<String> stored(TestServer server) {
        try (ApiClient api = new ApiClient(server.port())) {
            JsonNode messages = ApiClient.json(api.get("/api/rooms/lobby/messages?since=0")).get("messages");
            return StreamSupport.stream(messages.spliterator(), false).map(m -> m.get("text").asText()).toList();
        }
    }

    /** Bob sends these while the page cannot reach any server: on the same data, on another port. */
    private void sendWhileDown(UnaryOperator<ServerConfig> config, String... texts) throws Exception {
        try (TestServer meanwhile = TestServer.start(dir, config);
             WsClient bob = WsClient.hello(meanwhile.chatUri(), "bob")) {
            bob.join("lobby");
            for (int i = 0; i < texts.length; i++) {
                bob.say("lobby", "down-" + i, texts[i]);
            }
            bob.collect("ack", texts.length);
        }
    }

    @Test
    void twoBrowsersChatInRealTime() throws Exception {
        TestServer server = start();
        ChatPage ada = open(server.httpUri("/"));
        ChatPage bob = open(server.httpUri("/"));
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
        TestServer server = start();
        ChatPage ada = open(server.httpUri("/"));
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
        TestServer first = start();
        Relay relay = closedAfter(new Relay(first.port()));
        ChatPage ada = open(relay.uri("/"));
        ada.join("ada", "lobby");
        ada.say("before the restart");
        ada.awaitText("before the restart");

        first.close();
        relay.down();
        ada.await("the page to notice the server is gone",
                d -> !"connected".equals(ada.script("return document.getElementById('status').dataset.state")));
        sendWhileDown(c -> c, "while you were away 1", "while you were away 2");
        relay.to(start().port());

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
        TestServer blocked = start(c -> c.withAccess(c.access().withWebSocket(false)));
        Relay relay = closedAfter(new Relay(blocked.port()));
        ChatPage ada = open(relay.uri("/"));
        ada.join("ada", "lobby");
        ada.awaitTransport("longpoll");
        assertThat(ada.transportText()).isEqualTo("long polling");

        post(blocked, "bob", "b1", "from bob over HTTP");
        assertThat(ada.awaitText("from bob over HTTP").from()).isEqualTo("bob");
        ada.say("from ada over long polling");
        ada.awaitText("from ada over long polling");
        ada.screenshot("fallsBackToLongPolling-while-polling");

        blocked.close();
        relay.down();
        sendWhileDown(c -> c, "while ada was away");
        TestServer open = start();
        relay.to(open.port());

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
        TestServer server = start(c -> c.withAccess(c.access().withTokenSecret(SECRET)));
        String token = new Tokens(SECRET).mint("u-42", "Ada Lovelace", List.of(), Duration.ofMinutes(5));
        ChatPage ada = open(server.httpUri("/#token=" + token));
        assertThat(ada.nameField()).isEqualTo("Ada Lovelace");
        ada.join(null, "lobby");
        ada.say("signed in");

        assertThat(ada.awaitText("signed in").from()).isEqualTo("Ada Lovelace");
        assertThat(ada.transport()).isEqualTo("websocket");
    }

    @Test
    void aSiteThatFramesThePageKeepsItsSessionGoingWithFreshTokens() throws Exception {
        // The team's own site, on another origin, shows the chat in a frame and hands it tokens: its
        // backend mints one for the signed-in user each time the page asks (/token), a short one first.
        Duration firstLasts = Duration.ofSeconds(5);
        Tokens tokens = new Tokens(SECRET);
        AtomicReference<String> hostPage = new AtomicReference<>("");
        AtomicInteger minted = new AtomicInteger();
        AtomicLong firstMintedAt = new AtomicLong();
        HttpServer host = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        host.createContext("/", exchange -> {
            String body = hostPage.get();
            if (exchange.getRequestURI().getPath().equals("/token")) {
                boolean first = minted.getAndIncrement() == 0;
                if (first) {
                    firstMintedAt.set(System.nanoTime());
                }
                body = tokens.mint("u-7", "Grace", List.of(), first ? firstLasts : Duration.ofHours(1));
            }
            byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().set("Content-Type", "text/html; charset=utf-8");
            exchange.sendResponseHeaders(200, bytes.length);
            exchange.getResponseBody().write(bytes);
            exchange.close();
        });
        host.start();
        closedAfter(() -> host.stop(0));
        String hostOrigin = "http://127.0.0.1:" + host.getAddress().getPort();
        // No presence grace: a connection that ended and came back must show as a left. No clock
        // leeway: the connection ends at the first token's exp unless the page refreshes it. Minted
        // when the page asks, the first token's 5 s leave out Chromium's start, which on a loaded
        // machine once took a 2 s token's whole life before the page had connected.
        TestServer server = start(c -> c.withAccess(c.access().withTokenSecret(SECRET).withTokenLeeway(Duration.ZERO))
                .withAllowedOrigins(List.of(hostOrigin)).withPresenceGrace(Duration.ZERO));
        String parleyOrigin = "http://127.0.0.1:" + server.port();
        hostPage.set("""
                <!doctype html><title>the team's site</title>
                <p>asked for a token <span id="asked">0</span> times</p>
                <iframe id="chat" width="900" height="600" src="%1$s/"></iframe>
                <script>
                  window.addEventListener('message', async (event) => {
                    if (event.origin !== '%1$s' || event.data?.type !== 'parley:token-needed') return;
                    const asked = document.getElementById('asked');
                    asked.textContent = String(Number(asked.textContent) + 1);
                    const token = await (await fetch('/token')).text();
                    event.source.postMessage({ type: 'parley:token', token }, '%1$s');
                  });
                </script>
                """.formatted(parleyOrigin));

        try (WsClient bob = WsClient.hello(server.chatUri(), "bob")) {
            bob.join("lobby");
            ChatPage grace = open(URI.create(hostOrigin + "/"));
            grace.enterFrame("chat");
            // No token in the frame's address: the first came from the site, when the page asked.
            grace.await("the name from the site's token", d -> grace.nameField().equals("Grace"));
            grace.join(null, "lobby");
            bob.expect("presence", m -> m.path("joined").toString().contains("Grace"));

            // Past the first token's end, with two seconds to spare.
            long left = firstLasts.plusSeconds(2).toNanos() - (System.nanoTime() - firstMintedAt.get());
            Thread.sleep(Math.max(0, left / 1_000_000));
            grace.say("still here");
            assertThat(grace.awaitText("still here").from()).isEqualTo("Grace");

            List<JsonNode> seen = bob.everythingUntil(x -> x.path("text").asText().equals("still here"));
            assertThat(seen.getLast().path("user").asText()).isEqualTo("u-7");
            assertThat(seen).as("what bob saw: Grace never left").noneMatch(
                    x -> x.path("type").asText().equals("presence") && x.path("left").toString().contains("Grace"));
            assertThat(grace.console()).contains("token refreshed");
            assertThat(grace.scriptAtTop("return document.getElementById('asked').textContent;", "chat"))
                    .as("asked at the start, then before the first token ran out").isEqualTo("2");
        }
    }

    @Test
    void saysSoWhenMessagesItMissedAreNoLongerStored() throws Exception {
        UnaryOperator<ServerConfig> keepTheLatest1000 = c -> c.withRetention(ServerConfig.MIN_RETAIN)
                .withAdmission(c.admission().withoutRateLimits());
        TestServer first = start(keepTheLatest1000);
        Relay relay = closedAfter(new Relay(first.port()));
        ChatPage ada = open(relay.uri("/"));
        ada.join("ada", "lobby");
        ada.say("before");
        ada.awaitText("before");

        first.close();
        relay.down();
        int missed = 1200;
        sendWhileDown(keepTheLatest1000, LongStream.rangeClosed(1, missed).mapToObj(i -> "missed " + i)
                .toArray(String[]::new));
        relay.to(start(keepTheLatest1000).port());

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
        TestServer server = start(c -> c.withAdmission(c.admission().withRates(1, 1, 50)));
        ChatPage ada = open(server.httpUri("/"));
        ada.join("ada", "lobby");
        List<String> texts = List.of("one", "two", "three", "four");
        texts.forEach(ada::say);

        texts.forEach(ada::awaitText);
        assertThat(ada.messages()).extracting(Line::text).containsExactlyInAnyOrderElementsOf(texts);
        assertThat(stored(server)).containsExactlyInAnyOrderElementsOf(texts);
    }
}
