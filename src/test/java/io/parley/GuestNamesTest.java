package io.parley;

import com.fasterxml.jackson.databind.JsonNode;
import io.parley.auth.Tokens;
import io.parley.config.ServerConfig.Access;
import io.parley.testing.ApiClient;
import io.parley.testing.TestServer;
import io.parley.testing.WsClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.net.URLEncoder;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A guest cannot pass as someone else by its name (docs/PROTOCOL.md, "Names"): names that hide
 * characters are refused, and so are look-alikes of a signed-in user's name or of another member's in
 * the room, over WebSocket and over the HTTP API. Messages of invisible characters only are empty.
 */
class GuestNamesTest {

    private static final String SECRET = "guest-names-test-secret-of-32-bytes!";
    private static final String CYRILLIC_ALICE = "\u0410lice";
    private static final String FULLWIDTH_ALICE = "\uFF21lice";

    @TempDir
    Path dir;
    private TestServer server;
    private final Tokens tokens = new Tokens(SECRET);

    @BeforeEach
    void start() throws Exception {
        server = TestServer.start(dir, c -> c.withAccess(Access.defaults().withTokenSecret(SECRET)));
    }

    @AfterEach
    void stop() {
        server.close();
    }

    /** What the server answers a guest's hello: its welcome or its error. */
    private JsonNode hello(String name) {
        try (WsClient c = WsClient.connect(server.chatUri())) {
            c.send(Map.of("type", "hello", "name", name));
            return c.take(1, m -> m.path("type").asText().matches("welcome|error")).getFirst();
        }
    }

    private WsClient signedIn(String user, String name) {
        String token = tokens.mint(user, name, List.of(), Duration.ofMinutes(5));
        WsClient c = WsClient.connect(server.chatUri(), Map.of("Authorization", "Bearer " + token));
        c.send(Map.of("type", "hello"));
        assertThat(c.expect("welcome").get("user").asText()).isEqualTo(user);
        return c;
    }

    private HttpResponse<String> postAsGuest(String name, String room, String id, String text) {
        try (ApiClient api = new ApiClient(server.port())) {
            return api.post(room, ApiClient.body(id, text),
                    "X-Parley-Name", URLEncoder.encode(name, StandardCharsets.UTF_8).replace("+", "%20"));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"Alice\u00A0", "\u3164", "Al\u200Dice", "Al\u200Bice", "abc\u202Egnp", "a\u2066b",
            "Bob  Smith"})
    void aHelloWithAHiddenCharacterIsRefused(String name) {
        JsonNode reply = hello(name);
        assertThat(reply.path("code").asText()).as(reply.toString()).isEqualTo("invalid_name");
    }

    @ParameterizedTest
    @ValueSource(strings = {"Alice\u00A0", "\u3164", "Al\u200Dice", "abc\u202Egnp"})
    void anApiGuestNameWithAHiddenCharacterIsRefused(String name) {
        HttpResponse<String> response = postAsGuest(name, "lobby", "m1", "hi");
        assertThat(response.statusCode()).as(response.body()).isEqualTo(400);
        assertThat(ApiClient.json(response).get("code").asText()).isEqualTo("invalid_name");
    }

    @Test
    void aGuestCannotTakeTheNameOfASignedInUserNorALookAlike() {
        try (WsClient alice = signedIn("u-alice", "Alice")) {
            for (String name : List.of("Alice", CYRILLIC_ALICE, FULLWIDTH_ALICE, "alice", "AIice")) {
                JsonNode reply = hello(name);
                assertThat(reply.path("code").asText()).as(name + ": " + reply).isEqualTo("invalid_name");
                HttpResponse<String> response = postAsGuest(name, "lobby", "m-" + name.hashCode(), "hi");
                assertThat(response.statusCode()).as(name + ": " + response.body()).isEqualTo(400);
                assertThat(ApiClient.json(response).get("code").asText()).isEqualTo("invalid_name");
            }
            assertThat(hello("Alicia").path("type").asText()).isEqualTo("welcome");
        }
    }

    @Test
    void aSignedInUserSeenOnlyOnTheApiIsProtectedToo() {
        String token = tokens.mint("u-grace", "Grace", List.of(), Duration.ofMinutes(5));
        try (ApiClient api = new ApiClient(server.port())) {
            HttpResponse<String> sent = api.post("lobby", ApiClient.body("g1", "hello"), "Authorization", "Bearer " + token);
            assertThat(sent.statusCode()).as(sent.body()).isEqualTo(200);
        }
        assertThat(hello("Gr\u0430ce").path("code").asText()).isEqualTo("invalid_name"); // Cyrillic а
    }

    @Test
    void aGuestThatJoinsARoomCannotLookLikeAnotherMember() {
        try (WsClient carol = WsClient.hello(server.chatUri(), "Carol");
             WsClient twin = WsClient.hello(server.chatUri(), "\u0421arol"); // Cyrillic С: no signed-in Carol
             WsClient secondTab = WsClient.hello(server.chatUri(), "Carol")) {
            carol.join("lobby");

            twin.send(Map.of("type", "join", "room", "lobby"));
            JsonNode refused = twin.expect("error");
            assertThat(refused.get("code").asText()).isEqualTo("invalid_name");
            assertThat(refused.get("request").asText()).isEqualTo("join");
            // The same guest in another tab is the same user id: it shares the room with itself.
            secondTab.join("lobby");
            // Elsewhere the name is free; over the API it is not, in Carol's room.
            twin.join("annex");
            HttpResponse<String> response = postAsGuest("\u0421arol", "lobby", "c1", "hi");
            assertThat(response.statusCode()).as(response.body()).isEqualTo(400);
            assertThat(postAsGuest("\u0421arol", "annex", "c2", "hi").statusCode()).isEqualTo(200);

            // Once Carol's connections have left, the look-alike may join.
            carol.send(Map.of("type", "leave", "room", "lobby"));
            carol.expect("left");
            secondTab.send(Map.of("type", "leave", "room", "lobby"));
            secondTab.expect("left");
            twin.join("lobby");
        }
    }

    @Test
    void aGuestInTheRoomFirstCannotSendOnceTheSignedInUserCame() {
        try (WsClient guest = WsClient.hello(server.chatUri(), "Dora")) {
            guest.join("lobby");
            try (WsClient dora = signedIn("u-dora", "Dora")) {
                dora.join("lobby");
                guest.say("lobby", "g1", "I am Dora");
                JsonNode refused = guest.expect("error");
                assertThat(refused.get("code").asText()).isEqualTo("invalid_name");
                assertThat(refused.get("id").asText()).isEqualTo("g1");
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"\u00A0", "\u00A0\u00A0\u00A0", "\u200B", "\u200B\u200C\u200D\u2060\uFEFF", "\u3164",
            " \u00A0\n\u200B\t", "\u2800"})
    void aMessageOfInvisibleCharactersOnlyIsEmpty(String text) {
        try (WsClient c = WsClient.hello(server.chatUri(), "eve")) {
            c.join("lobby");
            c.say("lobby", "e1", text);
            JsonNode refused = c.expect("error");
            assertThat(refused.get("code").asText()).isEqualTo("empty_message");
        }
        HttpResponse<String> response = postAsGuest("eve", "lobby", "e2", text);
        assertThat(response.statusCode()).as(response.body()).isEqualTo(400);
        assertThat(ApiClient.json(response).get("code").asText()).isEqualTo("empty_message");
    }

    @Test
    void aMessageWithSomethingVisibleIsStored() {
        HttpResponse<String> response = postAsGuest("eve", "lobby", "e1", "\u00A0ok\u200B");
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    }
}
