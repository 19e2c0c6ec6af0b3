package io.parley.engine.cluster;

import io.parley.engine.cluster.Nodes.Received;
import io.parley.engine.cluster.Nodes.Recorder;
import io.parley.testing.RedisProcess;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static io.parley.engine.cluster.Nodes.await;
import static io.parley.engine.cluster.Nodes.bytes;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Two RedisLinks as two nodes, on a real redis-server: standalone, and a cluster of three masters. */
class RedisLinkTest {

    private static final Duration WAIT = Duration.ofSeconds(10);

    @TempDir
    Path dir;

    private final List<AutoCloseable> open = new ArrayList<>();

    @BeforeEach
    void needsRedis() {
        assumeTrue(RedisProcess.available(), "redis-server is not installed (apt-get install redis-server; .ci/run installs it)");
    }

    @AfterEach
    void closeAll() throws Exception {
        for (int i = open.size() - 1; i >= 0; i--) {
            open.get(i).close();
        }
    }

    private <T extends AutoCloseable> T keep(T t) {
        open.add(t);
        return t;
    }

    private RedisLink link(String url, String node, Recorder recorder) {
        return keep(RedisLink.connect(RedisAddress.parse(url), node, recorder));
    }

    @Test
    void deliversOtherNodesPayloadsButNeverANodesOwn() throws Exception {
        RedisProcess redis = keep(RedisProcess.start(dir));
        Recorder ra = new Recorder();
        Recorder rb = new Recorder();
        RedisLink a = link(redis.url(), "node-a", ra);
        RedisLink b = link(redis.url(), "node-b", rb);
        a.subscribe("lobby").toCompletableFuture().get(5, TimeUnit.SECONDS);
        b.subscribe("lobby").toCompletableFuture().get(5, TimeUnit.SECONDS);

        a.publish("lobby", bytes("from a: héllo 👋"));
        await(WAIT, "b gets a's payload", () -> rb.got("lobby", "from a: héllo 👋"));
        b.publish("lobby", bytes("from b"));
        await(WAIT, "a gets b's payload", () -> ra.got("lobby", "from b"));

        // Each got exactly the other's: a's own payload came back to a on the same connection before b's.
        assertThat(ra.all()).containsExactly(new Received("lobby", "from b"));
        assertThat(rb.all()).containsExactly(new Received("lobby", "from a: héllo 👋"));
        assertThat(a.published()).isEqualTo(1);
        assertThat(a.publishFailures()).isZero();
    }

    @Test
    void connectingFailsAtOnceWhenRedisIsNotThere() throws Exception {
        int port;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            port = s.getLocalPort();
        }
        long start = System.nanoTime();
        org.assertj.core.api.Assertions.assertThatThrownBy(
                () -> link("redis://127.0.0.1:" + port, "node-a", new Recorder())).isInstanceOf(RuntimeException.class);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
    }

    @Test
    void unsubscribeStopsDelivery() throws Exception {
        RedisProcess redis = keep(RedisProcess.start(dir));
        Recorder rb = new Recorder();
        RedisLink a = link(redis.url(), "node-a", new Recorder());
        RedisLink b = link(redis.url(), "node-b", rb);
        b.subscribe("left-room").toCompletableFuture().get(5, TimeUnit.SECONDS);
        b.subscribe("marker").toCompletableFuture().get(5, TimeUnit.SECONDS);
        a.publish("left-room", bytes("before"));
        await(WAIT, "b gets the first payload", () -> rb.got("left-room", "before"));

        b.unsubscribe("left-room").toCompletableFuture().get(5, TimeUnit.SECONDS);
        a.publish("left-room", bytes("after"));
        a.publish("marker", bytes("published after"));
        await(WAIT, "b gets the marker", () -> rb.got("marker", "published after"));

        assertThat(rb.all()).containsExactly(new Received("left-room", "before"), new Received("marker", "published after"));
    }

    @Test
    void aRoomLeftAndJoinedAgainAtOnceIsNoDisruption() throws Exception {
        RedisProcess redis = keep(RedisProcess.start(dir));
        Recorder rb = new Recorder();
        RedisLink a = link(redis.url(), "node-a", new Recorder());
        RedisLink b = link(redis.url(), "node-b", rb);
        b.subscribe("flip").toCompletableFuture().get(5, TimeUnit.SECONDS);

        // The last member leaves and another joins at once: the unsubscribe's confirmation arrives
        // while the room is held again. That is not Redis dropping the room; no catch-up is due.
        for (int i = 0; i < 20; i++) {
            b.unsubscribe("flip");
            b.subscribe("flip");
        }
        b.subscribe("flip").toCompletableFuture().get(5, TimeUnit.SECONDS);
        a.publish("flip", bytes("still here"));
        await(WAIT, "delivered after the flips", () -> rb.got("flip", "still here"));
        Thread.sleep(500);

        assertThat(rb.restored.get()).isZero();
    }

    @Test
    void aRoomLeftWhileRedisWasDownIsNotSubscribedAgain() throws Exception {
        RedisProcess redis = keep(RedisProcess.start(dir));
        Recorder rb = new Recorder();
        RedisLink b = link(redis.url(), "node-b", rb);
        b.subscribe("kept").toCompletableFuture().get(5, TimeUnit.SECONDS);
        b.subscribe("gone").toCompletableFuture().get(5, TimeUnit.SECONDS);

        redis.stop();
        await(WAIT, "the unsubscribe fails while Redis is down", () -> {
            b.subscribe("gone");
            try {
                b.unsubscribe("gone").toCompletableFuture().get(1, TimeUnit.SECONDS);
                return false;
            } catch (Exception expected) {
                return true;
            }
        });
        redis.restart();
        await(WAIT, "b restored", () -> rb.restored.get() >= 1);

        // Lettuce subscribes again what it last saw subscribed; the link takes "gone" back off.
        await(WAIT, "nobody receives on gone", () -> {
            try {
                return redis.command("SPUBLISH", "parley:{gone}", "x").equals("0");
            } catch (java.io.IOException e) {
                return false;
            }
        });
        assertThat(redis.command("SPUBLISH", "parley:{kept}", "x")).isEqualTo("1");
        assertThat(b.holds("gone")).isFalse();
    }

    @Test
    void resubscribesAfterRedisRestartsAndSaysSo() throws Exception {
        RedisProcess redis = keep(RedisProcess.start(dir));
        Recorder ra = new Recorder();
        Recorder rb = new Recorder();
        RedisLink a = link(redis.url(), "node-a", ra);
        RedisLink b = link(redis.url(), "node-b", rb);
        for (String room : List.of("r1", "r2", "r3")) {
            b.subscribe(room).toCompletableFuture().get(5, TimeUnit.SECONDS);
        }

        redis.restart();
        long back = System.nanoTime();
        await(WAIT, "b calls restored()", () -> rb.restored.get() >= 1);
        System.out.printf("restored() %d ms after the new Redis answered%n", (System.nanoTime() - back) / 1_000_000);
        assertThat(b.restorations()).isEqualTo(rb.restored.get());

        // The new Redis knows nothing; b's subscriptions must be there again. a's publishes may fail while
        // a's own connection comes back, so publish until one arrives.
        for (String room : List.of("r1", "r2", "r3")) {
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (!rb.got(room, "after restart") && System.nanoTime() < deadline) {
                a.publish(room, bytes("after restart"));
                Thread.sleep(50);
            }
            assertThat(rb.got(room, "after restart")).as("delivered on %s after the restart", room).isTrue();
        }
        assertThat(b.holds("r1")).isTrue();
    }

    @Test
    void subscribingWhileRedisIsDownNeverBlocksAndCompletesOnRestore() throws Exception {
        RedisProcess redis = keep(RedisProcess.start(dir));
        Recorder rb = new Recorder();
        RedisLink a = link(redis.url(), "node-a", new Recorder());
        RedisLink b = link(redis.url(), "node-b", rb);
        redis.stop();
        await(WAIT, "b notices", () -> {
            try {
                b.subscribe("late").toCompletableFuture().get(1, TimeUnit.SECONDS);
                return false;
            } catch (Exception expected) {
                return true;
            }
        });
        long start = System.nanoTime();
        for (int i = 0; i < 1000; i++) {
            a.publish("late", bytes("lost " + i));
        }
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(1));

        redis.restart();
        await(WAIT, "b restored", () -> rb.restored.get() >= 1);
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!rb.got("late", "now") && System.nanoTime() < deadline) {
            a.publish("late", bytes("now"));
            Thread.sleep(50);
        }
        assertThat(rb.got("late", "now")).isTrue();
        await(WAIT, "a counted the lost publishes", () -> a.publishFailures() >= 1000);
    }

    @Test
    void staysSubscribedWhenRedisIsEmptied() throws Exception {
        RedisProcess redis = keep(RedisProcess.start(dir));
        Recorder rb = new Recorder();
        RedisLink a = link(redis.url(), "node-a", new Recorder());
        RedisLink b = link(redis.url(), "node-b", rb);
        b.subscribe("kept").toCompletableFuture().get(5, TimeUnit.SECONDS);

        redis.flushAll();
        a.publish("kept", bytes("after flush"));

        await(WAIT, "delivered after FLUSHALL", () -> rb.got("kept", "after flush"));
        assertThat(rb.restored.get()).isZero();
    }

    @Test
    void dropsMessagesWithoutAnEnvelope() throws Exception {
        RedisProcess redis = keep(RedisProcess.start(dir));
        Recorder rb = new Recorder();
        RedisLink a = link(redis.url(), "node-a", new Recorder());
        RedisLink b = link(redis.url(), "node-b", rb);
        b.subscribe("noisy").toCompletableFuture().get(5, TimeUnit.SECONDS);

        redis.command("SPUBLISH", "parley:{noisy}", "not an envelope");
        redis.command("SPUBLISH", "parley:{noisy}", "");
        a.publish("noisy", bytes("real"));

        await(WAIT, "the real one arrives", () -> rb.got("noisy", "real"));
        assertThat(rb.all()).containsExactly(new Received("noisy", "real"));
        assertThat(b.malformed()).isEqualTo(2);
    }

    @Test
    void spreadsRoomsOverAClusterOfThreeMastersAndDeliversOnEach() throws Exception {
        List<RedisProcess> cluster = RedisProcess.cluster(dir, 3);
        cluster.forEach(this::keep);
        // Pick one room per master: the master that owns a room's slot answers SPUBLISH, the others MOVED.
        Map<Integer, String> roomByMaster = new HashMap<>();
        for (int i = 0; roomByMaster.size() < 3 && i < 1000; i++) {
            String room = "room" + i;
            String slot = cluster.getFirst().command("CLUSTER", "KEYSLOT", "parley:{" + room + "}");
            for (int m = 0; m < 3; m++) {
                String reply = cluster.get(m).command("SPUBLISH", "parley:{" + room + "}", "probe");
                if (!reply.startsWith("MOVED")) {
                    roomByMaster.putIfAbsent(m, room);
                } else {
                    assertThat(reply).startsWith("MOVED " + slot + " ");
                }
            }
        }
        assertThat(roomByMaster).hasSize(3);

        String seeds = cluster.get(0).url() + "," + cluster.get(1).url();
        Recorder ra = new Recorder();
        Recorder rb = new Recorder();
        RedisLink a = link(seeds, "node-a", ra);
        RedisLink b = link("redis-cluster://127.0.0.1:" + cluster.get(2).port(), "node-b", rb);
        assertThat(b.cluster()).isTrue();
        for (String room : roomByMaster.values()) {
            a.subscribe(room).toCompletableFuture().get(5, TimeUnit.SECONDS);
            b.subscribe(room).toCompletableFuture().get(5, TimeUnit.SECONDS);
        }
        for (Map.Entry<Integer, String> e : roomByMaster.entrySet()) {
            // The subscriptions sit on the master that owns the slot: it counts two receivers there.
            assertThat(cluster.get(e.getKey()).command("SPUBLISH", "parley:{" + e.getValue() + "}", "count"))
                    .as("receivers of %s on master %d", e.getValue(), e.getKey()).isEqualTo("2");
        }
        for (String room : roomByMaster.values()) {
            a.publish(room, bytes("a on " + room));
            b.publish(room, bytes("b on " + room));
        }
        for (String room : roomByMaster.values()) {
            await(WAIT, "b gets a's on " + room, () -> rb.got(room, "a on " + room));
            await(WAIT, "a gets b's on " + room, () -> ra.got(room, "b on " + room));
        }
        assertThat(ra.all()).hasSize(3).allMatch(r -> r.text().startsWith("b on "));
        assertThat(rb.all()).hasSize(3).allMatch(r -> r.text().startsWith("a on "));
        assertThat(a.malformed()).isEqualTo(3);
        assertThat(b.malformed()).isEqualTo(3);
    }

    @Test
    void restoresSubscriptionsWhenOneMasterOfAClusterRestarts() throws Exception {
        List<RedisProcess> cluster = RedisProcess.cluster(dir, 3);
        cluster.forEach(this::keep);
        String room = null;
        for (int i = 0; room == null; i++) {
            // A room whose slot is on the master that restarts.
            if (!cluster.get(1).command("SPUBLISH", "parley:{r" + i + "}", "probe").startsWith("MOVED")) {
                room = "r" + i;
            }
        }
        String seeds = cluster.get(0).url() + "," + cluster.get(1).url() + "," + cluster.get(2).url();
        Recorder rb = new Recorder();
        RedisLink a = link(seeds, "node-a", new Recorder());
        RedisLink b = link(seeds, "node-b", rb);
        b.subscribe(room).toCompletableFuture().get(5, TimeUnit.SECONDS);

        cluster.get(1).restart();
        await(Duration.ofSeconds(20), "b calls restored()", () -> rb.restored.get() >= 1);

        String r = room;
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (!rb.got(r, "after restart") && System.nanoTime() < deadline) {
            a.publish(r, bytes("after restart"));
            Thread.sleep(100);
        }
        assertThat(rb.got(r, "after restart")).as("delivered on %s after its master restarted", r).isTrue();
    }

    @Test
    void followsARoomWhoseSlotMovesToAnotherMaster() throws Exception {
        List<RedisProcess> cluster = RedisProcess.cluster(dir, 3);
        cluster.forEach(this::keep);
        String room = null;
        for (int i = 0; room == null; i++) {
            if (!cluster.get(0).command("SPUBLISH", "parley:{m" + i + "}", "probe").startsWith("MOVED")) {
                room = "m" + i;
            }
        }
        String seeds = cluster.get(0).url() + "," + cluster.get(1).url() + "," + cluster.get(2).url();
        Recorder rb = new Recorder();
        RedisLink a = link(seeds, "node-a", new Recorder());
        RedisLink b = link(seeds, "node-b", rb);
        b.subscribe(room).toCompletableFuture().get(5, TimeUnit.SECONDS);

        // Move the room's slot (it holds no keys) from master 0 to master 1, as a resharding would.
        String slot = cluster.get(0).command("CLUSTER", "KEYSLOT", "parley:{" + room + "}");
        String from = cluster.get(0).command("CLUSTER", "MYID");
        String to = cluster.get(1).command("CLUSTER", "MYID");
        assertThat(cluster.get(1).command("CLUSTER", "SETSLOT", slot, "IMPORTING", from)).isEqualTo("OK");
        assertThat(cluster.get(0).command("CLUSTER", "SETSLOT", slot, "MIGRATING", to)).isEqualTo("OK");
        assertThat(cluster.get(0).command("CLUSTER", "SETSLOT", slot, "NODE", to)).isEqualTo("OK");
        assertThat(cluster.get(1).command("CLUSTER", "SETSLOT", slot, "NODE", to)).isEqualTo("OK");
        assertThat(cluster.get(2).command("CLUSTER", "SETSLOT", slot, "NODE", to)).isEqualTo("OK");

        String r = room;
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!rb.got(r, "after the move") && System.nanoTime() < deadline) {
            a.publish(r, bytes("after the move"));
            Thread.sleep(100);
        }
        assertThat(rb.got(r, "after the move")).as("delivered on %s after its slot moved", r).isTrue();
        assertThat(rb.restored.get()).as("restored() after the move").isGreaterThanOrEqualTo(1);
        assertThat(cluster.get(1).command("SPUBLISH", "parley:{" + r + "}", "count")).isEqualTo("1");
    }
}
