package io.parley.browser;

import com.fasterxml.jackson.databind.JsonNode;
import io.parley.browser.ChatPage.Account;
import io.parley.browser.ChatPage.RoomEntry;
import io.parley.config.ServerConfig;
import io.parley.config.ServerConfig.Accounts;
import io.parley.testing.ApiClient;
import io.parley.testing.TestServer;
import io.parley.testing.WsClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.function.UnaryOperator;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Accounts and the browser client together (issue 11): a person signs up on /signin and chats on the
 * main page as that account, in rooms the room list shows, then signs out and is a guest again.
 * {@link TokenRefreshBrowserTest} keeps such a page past its first token.
 */
class SignedInChatBrowserTest {

    static final String PASSWORD = "correct horse";

    @TempDir
    Path dir;

    @RegisterExtension
    final Pages pages = new Pages();

    /**
     * A server that takes sign-ups (also {@link TokenRefreshBrowserTest}'s), its accounts' settings and
     * the rest as {@code more} makes them.
     */
    static TestServer start(Pages pages, Path dir, UnaryOperator<Accounts> accounts, UnaryOperator<ServerConfig> more)
            throws Exception {
        return pages.closedAfter(TestServer.start(dir, c -> more.apply(c.withAccess(c.access().withAccounts(
                accounts.apply(c.access().accounts().withOpenSignup(true)))))));
    }

    /** The account's user id, as the server answers a sign-in with its password (not the page's word). */
    static String userIdOf(TestServer server, String name) {
        try (ApiClient api = new ApiClient(server.port())) {
            HttpResponse<String> session = api.send(api.request("/api/session", "Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(WsClient.object().put("name", name)
                            .put("password", PASSWORD).toString())).build());
            assertThat(session.statusCode()).as("signing in as %s: %s", name, session.body()).isEqualTo(200);
            return ApiClient.json(session).path("user").asText();
        }
    }

    @Test
    void signsUpChatsAsTheAccountInListedRoomsAndSignsOutToAGuest() throws Exception {
        TestServer server = start(pages, dir, a -> a, c -> c);
        try (ApiClient api = new ApiClient(server.port())) {
            assertThat(api.postAs("bob", "general", "b1", "a room to list").statusCode()).isEqualTo(200);
        }

        ChatPage olga = pages.open(server.httpUri("/signin"));
        olga.signUp("Olga", PASSWORD);
        assertThat(olga.account()).as("signed in: the name, no 'Sign in', a 'Sign out'")
                .isEqualTo(new Account("Olga", false, true));
        assertThat(olga.nameField()).isEqualTo("Olga");

        olga.join(null, "lobby");
        olga.await("the room list: lobby joined, general listed", d -> olga.rooms().stream()
                .anyMatch(r -> r.room().equals("general") && !r.joined()));
        assertThat(olga.rooms()).extracting(RoomEntry::room).contains("lobby", "general");

        olga.say("hello as myself");
        assertThat(olga.awaitText("hello as myself").from()).isEqualTo("Olga");
        assertThat(olga.marks("hello as myself").guest()).as("no guest badge").isFalse();
        String user = userIdOf(server, "Olga");
        assertThat(user).doesNotStartWith("guest:");
        try (ApiClient api = new ApiClient(server.port())) {
            JsonNode stored = ApiClient.json(api.get("/api/rooms/lobby/messages?since=0")).path("messages");
            assertThat(stored).hasSize(1);
            assertThat(stored.get(0).path("user").asText()).as("stored under the account's user id").isEqualTo(user);
            assertThat(stored.get(0).path("from").asText()).isEqualTo("Olga");
        }

        olga.signOut();
        assertThat(olga.account()).as("a guest again: no name, 'Sign in' offered, no 'Sign out'")
                .isEqualTo(new Account("", true, false));
        assertThat(olga.joinFormShown()).isTrue();
        olga.join("olga-the-guest", "lobby");
        olga.say("hello as a guest");
        olga.awaitText("hello as a guest");
        assertThat(olga.marks("hello as a guest").guest()).as("the guest badge").isTrue();
    }
}
