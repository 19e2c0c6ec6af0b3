package io.parley.browser;

import io.parley.auth.Tokens;
import io.parley.browser.ChatPage.Account;
import io.parley.config.ServerConfig.Access;
import io.parley.testing.ApiClient;
import io.parley.testing.TestServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.net.http.HttpRequest;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Who the browser client says its user is (CONTRACT11, "Browser main page with accounts"). At start
 * the page asks the server for its signed-in session's token: a server with accounts answers 401 to
 * a page without a session, and the guest is offered "Sign in"; a server without accounts answers
 * 404, and there is nothing to offer. A token in the page's address names the user and wins over any
 * session.
 */
class AccountBrowserTest {

    private static final String SECRET = "account-browser-test-secret-of-32-bytes!";

    @TempDir
    Path dir;

    @RegisterExtension
    final Pages pages = new Pages();

    /** What the server answers a page without a session: 401 where it has accounts, 404 where it has none. */
    private static int sessionTokenStatus(TestServer server) {
        try (ApiClient api = new ApiClient(server.port())) {
            return api.send(api.request("/api/session/token").POST(HttpRequest.BodyPublishers.noBody()).build()).statusCode();
        }
    }

    @Test
    void aGuestIsOfferedSignInExactlyWhenTheServerHasAccounts() throws Exception {
        TestServer server = pages.closedAfter(TestServer.start(dir));
        int status = sessionTokenStatus(server);
        assertThat(status).as("no session: 401 with accounts, 404 without").isIn(401, 404);
        ChatPage ada = pages.joined(server.httpUri("/"), "ada", "lobby");
        assertThat(ada.account()).isEqualTo(new Account("", status == 401, false));
        ada.say("as a guest");
        assertThat(ada.awaitText("as a guest").from()).isEqualTo("ada");
        assertThat(ada.marks("as a guest").guest()).isTrue();
    }

    @Test
    void aTokenInTheAddressNamesTheUserWithoutSignInOrSignOut() throws Exception {
        TestServer server = pages.closedAfter(TestServer.start(dir, c -> c.withAccess(Access.defaults().withTokenSecret(SECRET))));
        String token = new Tokens(SECRET).mint("u-1", "Ada Lovelace", List.of(), Duration.ofMinutes(5));
        ChatPage ada = pages.open(server.httpUri("/#token=" + token));
        ada.await("the token's name", d -> ada.account().name().equals("Ada Lovelace"));
        assertThat(ada.account()).isEqualTo(new Account("Ada Lovelace", false, false));
        ada.join(null, "lobby");
        ada.say("as myself");
        ada.awaitText("as myself");
        assertThat(ada.marks("as myself").guest()).isFalse();
    }
}
