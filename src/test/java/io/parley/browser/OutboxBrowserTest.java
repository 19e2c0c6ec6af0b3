package io.parley.browser;

import com.fasterxml.jackson.databind.JsonNode;
import io.parley.browser.ChatPage.Unsent;
import io.parley.config.ServerConfig;
import io.parley.testing.ApiClient;
import io.parley.testing.TestServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.UnaryOperator;
import java.util.stream.IntStream;
import java.util.stream.StreamSupport;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The browser client's outbox (outbox.js) in a real Chromium against a real server with its default
 * rate limits: what a person writes is stored, all of it, in the order written, however fast it was
 * written, across refusals, reconnects and reloads (issue 11, "The browser client loses messages in a
 * burst").
 */
class OutboxBrowserTest {

    private static final Duration STORED_WITHIN = Duration.ofSeconds(40);

    @TempDir
    Path dir;

    @RegisterExtension
    final Pages pages = new Pages();

    private ChatPage open(URI url) throws IOException {
        return pages.open(url);
    }

    private TestServer start(UnaryOperator<ServerConfig> config) throws Exception {
        return pages.closedAfter(TestServer.start(dir, config));
    }

    /** Every text the server stores for the room, in seq order, read back over the HTTP API. */
    private static List<String> stored(TestServer server, String room) {
        try (ApiClient api = new ApiClient(server.port())) {
            JsonNode messages = ApiClient.json(api.get("/api/rooms/" + room + "/messages?since=0&limit=500")).get("messages");
            return StreamSupport.stream(messages.spliterator(), false).map(m -> m.get("text").asText()).toList();
        }
    }

    /** Polls the store until it holds {@code expected} many messages (or the time is up), then returns them. */
    private static List<String> awaitStored(TestServer server, String room, int expected) throws InterruptedException {
        long deadline = System.nanoTime() + STORED_WITHIN.toNanos();
        List<String> texts = stored(server, room);
        while (texts.size() < expected && System.nanoTime() < deadline) {
            Thread.sleep(100);
            texts = stored(server, room);
        }
        return texts;
    }

    private static List<String> numbered(String prefix, int count) {
        return IntStream.rangeClosed(1, count).mapToObj(i -> prefix + i).toList();
    }

    @Test
    void aHundredMessagesSentInOneInstantAreAllStoredInOrder() throws Exception {
        TestServer server = start(c -> c); // the default rate limits: 10 a second per connection
        ChatPage ada = open(server.httpUri("/"));
        ada.join("ada", "lobby");
        long began = System.nanoTime();
        ada.burst("burst ", 100);
        List<String> expected = numbered("burst ", 100);
        List<String> stored = awaitStored(server, "lobby", 100);
        assertThat(stored).as("stored %d of 100: %s", stored.size(), stored).containsExactlyElementsOf(expected);
        System.out.printf("100 messages stored in %d ms%n", Duration.ofNanos(System.nanoTime() - began).toMillis());
        ada.awaitText("burst 100");
        ada.await("the outbox to empty", d -> ada.unsent().isEmpty());
        assertThat(ada.messages()).extracting(ChatPage.Line::text).containsExactlyElementsOf(expected);
        // A little later, nothing more arrived: every message was stored exactly once.
        Thread.sleep(500);
        assertThat(stored(server, "lobby")).hasSize(100);
    }

    @Test
    void whatWasWaitingIsSentAfterAReloadWithoutAClick() throws Exception {
        // Slow limits, so that most of the burst still waits when the page reloads.
        TestServer server = start(c -> c.withAdmission(c.admission().withRates(2, 2, 50)));
        ChatPage ada = open(server.httpUri("/"));
        ada.join("ada", "lobby");
        ada.burst("reload ", 12);
        ada.await("some sent, some waiting", d -> stored(server, "lobby").size() >= 2);
        assertThat(ada.unsent()).isNotEmpty();
        ada.reload();
        List<String> expected = numbered("reload ", 12);
        assertThat(awaitStored(server, "lobby", 12)).containsExactlyElementsOf(expected);
        ada.awaitText("reload 12");
        ada.awaitConnected();
        Thread.sleep(500);
        assertThat(stored(server, "lobby")).as("stored once each").containsExactlyElementsOf(expected);
    }

    @Test
    void whatWasWaitingIsSentAfterAServerRestartWithoutRepeats() throws Exception {
        UnaryOperator<ServerConfig> slow = c -> c.withAdmission(c.admission().withRates(2, 2, 50));
        TestServer first = start(slow);
        Relay relay = pages.closedAfter(new Relay(first.port()));
        ChatPage ada = open(relay.uri("/"));
        ada.join("ada", "lobby");
        ada.burst("restart ", 20);
        ada.await("some sent, some waiting", d -> stored(first, "lobby").size() >= 3);
        first.close();
        relay.down();
        ada.await("the page to notice the server is gone", d -> !"connected".equals(
                ada.script("return document.getElementById('status').dataset.state")));
        TestServer second = start(slow);
        relay.to(second.port());
        List<String> expected = numbered("restart ", 20);
        assertThat(awaitStored(second, "lobby", 20)).containsExactlyElementsOf(expected);
        ada.awaitText("restart 20");
        assertThat(ada.messages()).extracting(ChatPage.Line::text).containsExactlyElementsOf(expected);
    }

    @Test
    void aMessageRefusedForGoodIsShownFailedWithRetryAndDiscard() throws Exception {
        TestServer server = start(c -> c);
        ChatPage ada = open(server.httpUri("/"));
        ada.join("ada", "lobby");
        // U+0000 in a text is refused with bad_request (docs/PROTOCOL.md): it can never be stored.
        ada.script("const text = document.getElementById('text'); text.value = 'nul \\u0000 here';"
                + "document.getElementById('send-form').requestSubmit();");
        ada.say("after it");
        ada.awaitText("after it");
        ada.await("the refused one shown as failed", d -> ada.unsent().equals(List.of(new Unsent("nul \u0000 here", "failed"))));
        ada.unsentAction("nul \u0000 here", "retry");
        ada.await("refused again", d -> ada.unsent().equals(List.of(new Unsent("nul \u0000 here", "failed"))));
        ada.unsentAction("nul \u0000 here", "discard");
        ada.await("the outbox to empty", d -> ada.unsent().isEmpty());
        assertThat(stored(server, "lobby")).containsExactly("after it");
    }
}
