package io.parley.browser;

import com.fasterxml.jackson.databind.JsonNode;
import io.parley.config.ServerConfig.Accounts;
import io.parley.testing.TestServer;
import io.parley.testing.WsClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

import static io.parley.browser.SignedInChatBrowserTest.PASSWORD;
import static io.parley.browser.SignedInChatBrowserTest.start;
import static io.parley.browser.SignedInChatBrowserTest.userIdOf;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * A page signed in on /signin (accounts and the browser client together, issue 11) outlives its first
 * short-lived token on the same WebSocket: session.js fetches the next token from the session cookie and
 * the page sends it as a WebSocket {@code refresh}, so the server never ends the connection for it.
 */
class TokenRefreshBrowserTest {

    @TempDir
    Path dir;

    @RegisterExtension
    final Pages pages = new Pages();

    /**
     * Tokens of 30 s (the least the server takes) and no leeway: the connection would end with 1008 at
     * the first token's exp unless the page fetched the next one (at 3/4 of its life) and sent it as a
     * WebSocket {@code refresh}. No presence grace either, so that a reconnect would be a {@code left}
     * and a {@code joined} for a watcher in the room. About 35 s.
     */
    @Test
    void aSignedInPageRefreshesItsTokenAndKeepsItsConnectionPastTheFirstTokensEnd() throws Exception {
        Duration ttl = Duration.ofSeconds(30);
        TestServer server = start(pages, dir, a -> a.withLifetimes(ttl, Accounts.DEFAULT_SESSION_LIFETIME),
                c -> c.withAccess(c.access().withTokenLeeway(Duration.ZERO)).withPresenceGrace(Duration.ZERO));

        try (WsClient watcher = WsClient.hello(server.chatUri(), "watcher")) {
            watcher.join("lobby");
            ChatPage olga = pages.open(server.httpUri("/signin"), ChatPage.COUNT_WEBSOCKETS);
            olga.signUp("Olga", PASSWORD);
            Instant firstTokenEnds = Instant.now().plus(ttl); // the page's first token was minted before
            olga.join(null, "lobby");
            watcher.expect("presence", p -> p.path("joined").toString().contains("Olga"));

            Instant past = firstTokenEnds.plusSeconds(2);
            olga.await("the first token's end to pass, connected all along", ttl.plusSeconds(10), d -> {
                assertThat(olga.script("return document.getElementById('status').dataset.state"))
                        .as("the page's status at %s", Instant.now()).isEqualTo("connected");
                return Instant.now().isAfter(past);
            });
            olga.say("after the first token's end");
            olga.awaitText("after the first token's end");

            List<JsonNode> seen = watcher.everythingUntil(m -> m.path("type").asText().equals("message"));
            assertThat(seen.getLast().path("text").asText()).isEqualTo("after the first token's end");
            assertThat(seen.getLast().path("user").asText()).isEqualTo(userIdOf(server, "Olga"));
            assertThat(seen).as("the watcher saw Olga neither leave nor join again")
                    .noneMatch(m -> m.path("type").asText().equals("presence"));
            assertThat(olga.webSocketsOpened()).as("WebSockets the page opened").isEqualTo(1);
            assertThat(olga.transport()).isEqualTo("websocket");
        }
    }
}
