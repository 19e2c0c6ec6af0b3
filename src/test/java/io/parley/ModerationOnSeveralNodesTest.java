package io.parley;

import com.fasterxml.jackson.databind.JsonNode;
import io.parley.config.ServerConfig.Access;
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

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static io.parley.ModerationTest.assertTombstoned;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Moderation on two nodes sharing PostgreSQL and Redis, over both transports: a deletion made through
 * one node reaches the members on the other, after the message, and every read on either node returns
 * the tombstone, also from a node started again; a ban made through one node removes the member from
 * the other at once and holds on both, and so does a timeout.
 */
class ModerationOnSeveralNodesTest {

    /** Closed by JUnit after the class (left null when the class is skipped). */
    @AutoClose
    private static NodeServices services;
    @TempDir
    Path dir;
    private final List<AutoCloseable> open = new ArrayList<>();

    @BeforeAll
    static void startServices() throws Exception {
        services = NodeServices.start();
    }

    @AfterEach
    void closeAll() throws Exception {
        for (AutoCloseable c : open.reversed()) {
            c.close();
        }
    }

    private <T extends AutoCloseable> T open(T c) {
        open.add(c);
        return c;
    }

    private TestServer node(String url, String name) throws Exception {
        return TestServer.start(dir.resolve(name), c -> c.withPostgres(PostgresUrl.parse(url))
                .withRedis(RedisAddress.parse(services.redis().url()))
                .withAccess(Access.defaults().withTokenSecret(AccessTest.SECRET)));
    }

    @Test
    void aDeletionThroughOneNodeReachesTheOtherNodesMembersAndReads() throws Exception {
        String url = services.postgres().createDatabase();
        TestServer a = open(node(url, "a"));
        TestServer b = open(node(url, "b"));
        WsClient onA = open(WsClient.hello(a.chatUri(), "ann"));
        onA.join("lobby");
        WsClient onB = open(WsClient.hello(b.chatUri(), "bea"));
        onB.join("lobby");
        onA.say("lobby", "a1", "first");
        onA.say("lobby", "a2", "second");
        onB.expect("message", m -> m.path("seq").asLong() == 2);

        ApiClient apiA = open(new ApiClient(a.port()));
        ApiClient apiB = open(new ApiClient(b.port()));
        // A bot deletes through node A over HTTP: node B's member hears it.
        assertThat(ModerationTest.httpDelete(apiA, "lobby", "1", "Authorization", "Bearer " + ModerationTest.ADMIN)
                .statusCode()).isEqualTo(200);
        assertThat(onB.expect("deleted").path("seq").asLong()).isEqualTo(1);
        assertTombstoned(ModerationTest.polled(apiB, "lobby").get(0));

        // A moderator on node B over WebSocket: node A's member hears it.
        WsClient mod = open(ModerationTest.withToken(b, ModerationTest.ADMIN));
        mod.send(Map.of("type", "delete", "room", "lobby", "seq", 2));
        mod.expect("deleted");
        assertThat(onA.expect("deleted", m -> m.path("seq").asLong() == 2).path("by").asText()).isEqualTo("u-admin");
        WsClient late = open(WsClient.hello(a.chatUri(), "cid"));
        JsonNode history = late.join("lobby").path("history");
        assertTombstoned(history.get(0));
        assertTombstoned(history.get(1));

        // A node started again reads the tombstones from PostgreSQL.
        open.remove(b);
        b.close();
        TestServer again = open(node(url, "b"));
        WsClient afterRestart = open(WsClient.hello(again.chatUri(), "dee"));
        JsonNode recovered = afterRestart.join("lobby", 0).path("history");
        assertTombstoned(recovered.get(0));
        assertTombstoned(recovered.get(1));
    }

    @Test
    void aBanThroughOneNodeRemovesTheMemberOnTheOtherAtOnceAndHoldsOnBoth() throws Exception {
        String url = services.postgres().createDatabase();
        TestServer a = open(node(url, "a"));
        TestServer b = open(node(url, "b"));
        WsClient annOnB = open(WsClient.hello(b.chatUri(), "ann"));
        annOnB.join("lobby");
        WsClient bobOnA = open(WsClient.hello(a.chatUri(), "bob"));
        bobOnA.join("lobby");
        ApiClient apiA = open(new ApiClient(a.port()));
        long start = System.nanoTime();
        assertThat(ModerationTest.httpPost(apiA, "/api/rooms/lobby/bans", "{\"user\": \"guest:ann\"}",
                "Authorization", "Bearer " + ModerationTest.ADMIN).statusCode()).isEqualTo(200);
        assertThat(annOnB.expect("removed").path("reason").asText()).isEqualTo("banned");
        long tookMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        System.out.printf("a ban on node A removed the member on node B after %d ms%n", tookMillis);
        // Well inside the periodic re-read (2 s): the Redis notice did it.
        assertThat(tookMillis).isLessThan(1_500);
        bobOnA.expect("presence", p -> p.path("left").toString().contains("ann"));
        annOnB.send(Map.of("type", "join", "room", "lobby"));
        assertThat(ModerationTest.errorCode(annOnB)).isEqualTo("banned");
        WsClient annOnA = open(WsClient.hello(a.chatUri(), "ann"));
        annOnA.send(Map.of("type", "join", "room", "lobby"));
        assertThat(ModerationTest.errorCode(annOnA)).isEqualTo("banned");

        // A timeout through node B holds on node A.
        WsClient mod = open(ModerationTest.withToken(b, ModerationTest.ADMIN));
        mod.send(Map.of("type", "timeout", "room", "lobby", "user", "guest:bob", "seconds", 30));
        mod.expect("moderated");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        String answer;
        do {
            bobOnA.say("lobby", "b" + System.nanoTime(), "hi");
            JsonNode reply = bobOnA.take(1, m -> m.path("type").asText().matches("ack|error")).getFirst();
            answer = reply.path("type").asText().equals("ack") ? "ack" : reply.path("code").asText();
        } while (!answer.equals("timed_out") && System.nanoTime() < deadline);
        assertThat(answer).isEqualTo("timed_out");
    }
    @Test
    void aTimeoutThroughOneNodeIsToldAtOnceToTheUsersConnectionsOnTheOther() throws Exception {
        String url = services.postgres().createDatabase();
        TestServer a = open(node(url, "a"));
        TestServer b = open(node(url, "b"));
        WsClient annOnB = open(WsClient.hello(b.chatUri(), "ann"));
        annOnB.join("lobby");
        ApiClient apiA = open(new ApiClient(a.port()));
        long start = System.nanoTime();
        var set = ModerationTest.httpPost(apiA, "/api/rooms/lobby/timeouts", "{\"user\": \"guest:ann\", \"seconds\": 60}",
                "Authorization", "Bearer " + ModerationTest.ADMIN);
        assertThat(set.statusCode()).as(set.body()).isEqualTo(200);
        long until = ApiClient.json(set).path("until").asLong();
        JsonNode told = annOnB.expect("moderated");
        long tookMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        System.out.printf("a timeout on node A reached the user on node B after %d ms%n", tookMillis);
        assertThat(told.path("action").asText()).isEqualTo("timeout");
        assertThat(told.path("user").asText()).isEqualTo("guest:ann");
        assertThat(told.path("until").asLong()).isEqualTo(until);
        // Well inside the periodic re-read (2 s): the Redis notice did it.
        assertThat(tookMillis).isLessThan(1_500);

        // Her page loaded again, through either node, knows it from its join.
        WsClient annOnA = open(WsClient.hello(a.chatUri(), "ann"));
        assertThat(annOnA.join("lobby").path("timedOutUntil").asLong()).isEqualTo(until);

        assertThat(ModerationTest.httpPost(apiA, "/api/rooms/lobby/timeouts", "{\"user\": \"guest:ann\", \"seconds\": 0}",
                "Authorization", "Bearer " + ModerationTest.ADMIN).statusCode()).isEqualTo(200);
        assertThat(annOnB.expect("moderated").path("until").asLong()).isZero();
        assertThat(annOnA.expect("moderated").path("until").asLong()).isZero();
    }
}
