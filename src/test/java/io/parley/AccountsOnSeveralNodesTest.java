package io.parley;

import com.fasterxml.jackson.databind.JsonNode;
import io.parley.engine.cluster.RedisAddress;
import io.parley.store.PostgresUrl;
import io.parley.testing.ApiClient;
import io.parley.testing.NodeServices;
import io.parley.testing.TestServer;
import io.parley.testing.WsClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Accounts on two nodes sharing one PostgreSQL (and Redis): the secret one node generated is the
 * other's too, an account and its session made on one work on the other, and the other closes the
 * account's name to guests within the refresh interval.
 */
class AccountsOnSeveralNodesTest {

    /** Closed by JUnit after the class (left null when the class is skipped). */
    @AutoClose
    private static NodeServices services;
    @TempDir
    Path dir;
    private final List<TestServer> nodes = new ArrayList<>();

    @BeforeAll
    static void startServices() throws Exception {
        services = NodeServices.start();
    }

    @AfterEach
    void stopNodes() {
        nodes.forEach(TestServer::close);
    }

    private TestServer node(String url, int i) throws Exception {
        TestServer node = TestServer.start(dir.resolve("node" + i), c -> c.withPostgres(PostgresUrl.parse(url))
                .withRedis(RedisAddress.parse(services.redis().url()))
                .withAccess(c.access().withAccounts(c.access().accounts().withOpenSignup(true))));
        nodes.add(node);
        return node;
    }

    private static HttpResponse<String> post(ApiClient api, String path, String body, String... headers) {
        HttpRequest.Builder b = api.request(path, headers).header("Content-Type", "application/json");
        return api.send(b.POST(body == null ? HttpRequest.BodyPublishers.noBody()
                : HttpRequest.BodyPublishers.ofString(body)).build());
    }

    private static String guestHello(TestServer node, String name) {
        try (WsClient c = WsClient.connect(node.chatUri())) {
            c.send(Map.of("type", "hello", "name", name));
            JsonNode reply = c.take(1, m -> m.path("type").asText().matches("welcome|error")).getFirst();
            return reply.path("type").asText().equals("welcome") ? "welcome" : reply.path("code").asText();
        }
    }

    @Test
    void anAccountMadeOnOneNodeSignsInChatsAndIsProtectedOnTheOther() throws Exception {
        String url = services.postgres().createDatabase();
        TestServer a = node(url, 1);
        TestServer b = node(url, 2);
        assertThat(guestHello(b, "Quinn")).isEqualTo("welcome");

        HttpResponse<String> created;
        try (ApiClient api = new ApiClient(a.port())) {
            created = post(api, "/api/accounts", AccountsTest.credentials("Quinn", "correct horse"));
        }
        assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
        String token = ApiClient.json(created).path("token").asText();
        String cookie = AccountsTest.sessionCookie(created);

        try (WsClient ws = WsClient.connect(b.chatUri(), Map.of("Authorization", "Bearer " + token))) {
            ws.send(Map.of("type", "hello"));
            assertThat(ws.expect("welcome").path("name").asText()).as("node A's token on node B").isEqualTo("Quinn");
        }
        try (ApiClient api = new ApiClient(b.port())) {
            assertThat(post(api, "/api/session/token", null, "Cookie", cookie).statusCode()).isEqualTo(200);
            assertThat(post(api, "/api/session", AccountsTest.credentials("quinn", "correct horse")).statusCode())
                    .isEqualTo(200);
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
        String answer = guestHello(b, "QUINN");
        while (!answer.equals("invalid_name") && System.nanoTime() < deadline) {
            Thread.sleep(100);
            answer = guestHello(b, "QUINN");
        }
        assertThat(answer).isEqualTo("invalid_name");
    }
}
