package io.parley.resilience;

import com.fasterxml.jackson.databind.JsonNode;
import io.parley.testing.PostgresProcess;
import io.parley.testing.RedisProcess;
import io.parley.testing.ServeProcess;
import io.parley.testing.WsClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Two {@code parley serve} processes sharing a room, and one of them killed with SIGKILL: its members
 * leave the room for everyone else within the stated bound (the heartbeat's 5 s TTL plus a 1 s sweep),
 * the other node goes on, and a client of the dead node re-joins on the live one with {@code since}
 * and gets exactly what it missed.
 */
class SeveralNodesKillTest {

    @TempDir
    Path dir;

    @Test
    void theMembersOfAKilledNodeLeaveAndItsClientsRecoverOnAnotherNode() throws Exception {
        assumeTrue(PostgresProcess.unavailableReason() == null, PostgresProcess.unavailableReason());
        assumeTrue(RedisProcess.available(), "redis-server is not installed (.ci/run installs it)");
        try (PostgresProcess postgres = PostgresProcess.launch();
             RedisProcess redis = RedisProcess.start(Files.createDirectories(dir.resolve("redis")))) {
            String[] args = {"--postgres-url", postgres.createDatabase(), "--redis-url", redis.url()};
            try (ServeProcess live = ServeProcess.start(Files.createDirectories(dir.resolve("a")), dir.resolve("a.log"), args);
                 ServeProcess doomed = ServeProcess.start(Files.createDirectories(dir.resolve("b")), dir.resolve("b.log"), args);
                 WsClient ada = WsClient.hello(live.chatUri(), "ada");
                 WsClient bob = WsClient.hello(doomed.chatUri(), "bob")) {
                ada.join("hall");
                bob.join("hall");
                ada.expect("presence", m -> m.path("members").asInt() == 2 && m.path("joined").toString().contains("bob"));
                ada.say("hall", "a1", "before the kill");
                long seenByBob = bob.expect("message", m -> m.path("id").asText().equals("a1")).get("seq").asLong();

                doomed.kill9();
                long killed = System.nanoTime();
                ada.say("hall", "a2", "while bob's node is dead");
                assertThat(ada.expect("ack", m -> m.path("id").asText().equals("a2")).get("seq").asLong())
                        .isEqualTo(seenByBob + 1);
                JsonNode left = ada.expect("presence", m -> m.path("left").toString().contains("bob"));
                long tookMillis = (System.nanoTime() - killed) / 1_000_000;
                System.out.printf("a killed node's member left after %d ms%n", tookMillis);
                assertThat(left.get("members").asInt()).isEqualTo(1);
                assertThat(tookMillis).as("TTL 5 s + sweep 1 s, with slack for a busy machine").isLessThan(12_000);

                // Bob's client reconnects to the live node and asks for what it missed.
                try (WsClient back = WsClient.hello(live.chatUri(), "bob")) {
                    back.send(Map.of("type", "join", "room", "hall", "since", seenByBob));
                    JsonNode joined = back.expect("joined");
                    assertThat(joined.get("recovered").asBoolean()).isTrue();
                    List<String> missed = new ArrayList<>();
                    joined.get("history").forEach(m -> missed.add(m.get("id").asText()));
                    assertThat(missed).containsExactly("a2");
                    assertThat(bob.awaitCloseCode()).as("the dead node's connection ended").isNotZero();
                    ada.say("hall", "a3", "after");
                    assertThat(back.expect("message", m -> m.path("id").asText().equals("a3")).get("seq").asLong())
                            .isEqualTo(joined.get("seq").asLong() + 1);
                }
                assertThat(Duration.ofNanos(System.nanoTime() - killed)).isLessThan(Duration.ofSeconds(30));
            }
        }
    }
}
