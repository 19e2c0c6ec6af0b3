package io.parley.engine.cluster;

import io.parley.engine.cluster.Nodes.Recorder;
import io.parley.testing.RedisProcess;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;

import static io.parley.engine.cluster.Nodes.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Presence over several RedisLinks ("nodes") on a real redis-server, standalone and clustered. */
class RedisPresenceTest {

    /** What the module promises for a killed node: TTL + sweep interval after its last heartbeat. */
    private static final long BOUND_MILLIS = RedisPresence.TTL_MILLIS + RedisPresence.SWEEP_MILLIS;
    /** Round trips and a busy 2-core machine on top of the bound. */
    private static final long SLACK_MILLIS = 3_000;

    @TempDir
    Path dir;

    private final List<AutoCloseable> open = new ArrayList<>();

    record Left(String sweeper, String dead, String room, List<String> names) {
    }

    private final ConcurrentLinkedQueue<Left> departures = new ConcurrentLinkedQueue<>();

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

    /** A node: its link and its presence, closed in that order's reverse. */
    private record Node(RedisLink link, RedisPresence presence) {
    }

    private Node node(String url, String id) {
        RedisLink link = keep(RedisLink.connect(RedisAddress.parse(url), id, new Recorder()));
        RedisPresence presence = keep(new RedisPresence(link, (dead, room, names) -> departures.add(new Left(id, dead, room, names))));
        return new Node(link, presence);
    }

    private static long get(java.util.concurrent.CompletionStage<Long> stage) throws Exception {
        return stage.toCompletableFuture().get(5, TimeUnit.SECONDS);
    }

    @Test
    void countsEverySubscriptionOnEveryNode() throws Exception {
        RedisProcess redis = keep(RedisProcess.start(dir));
        Node a = node(redis.url(), "a");
        Node b = node(redis.url(), "b");

        assertThat(get(a.presence().join("lobby", "alice"))).isEqualTo(1);
        assertThat(get(b.presence().join("lobby", "bob"))).isEqualTo(2);
        assertThat(get(b.presence().join("lobby", "bob"))).isEqualTo(3);
        assertThat(get(a.presence().count("lobby"))).isEqualTo(3);
        assertThat(get(b.presence().count("lobby"))).isEqualTo(3);

        assertThat(get(b.presence().leave("lobby", "bob"))).isEqualTo(2);
        // Leaving a name that is not there changes nothing.
        assertThat(get(a.presence().leave("lobby", "nobody"))).isEqualTo(2);
        assertThat(get(a.presence().count("elsewhere"))).isZero();
    }

    @Test
    void killedNodesMembersLeaveOnceWithinTheBound() throws Exception {
        RedisProcess redis = keep(RedisProcess.start(dir));
        killedNodeIsSweptOnce(redis.url());
    }

    @Test
    void killedNodesMembersLeaveOnceOnACluster() throws Exception {
        List<RedisProcess> cluster = RedisProcess.cluster(dir, 3);
        cluster.forEach(this::keep);
        killedNodeIsSweptOnce(cluster.get(0).url() + "," + cluster.get(1).url() + "," + cluster.get(2).url());
    }

    private void killedNodeIsSweptOnce(String url) throws Exception {
        Node a = node(url, "a");
        Node b = node(url, "b");
        Node c = node(url, "c");
        // Several rooms, so that on a cluster they sit on different masters.
        List<String> rooms = List.of("r1", "r2", "r3", "r4", "r5", "r6");
        for (String room : rooms) {
            get(a.presence().join(room, "alice"));
            get(c.presence().join(room, "carol"));
        }
        get(c.presence().join("r1", "carol"));
        get(c.presence().join("r1", "dave"));
        assertThat(get(b.presence().count("r1"))).isEqualTo(4);

        c.presence().abandon();
        c.link().close();
        long killed = System.nanoTime();

        await(Duration.ofMillis(BOUND_MILLIS + SLACK_MILLIS), "c's members reported left in every room",
                () -> departures.stream().map(Left::room).distinct().count() == rooms.size());
        long tookMillis = (System.nanoTime() - killed) / 1_000_000;
        for (String room : rooms) {
            assertThat(get(a.presence().count(room))).as("count of %s", room).isEqualTo(1);
        }
        // Sweeps go on on a and b; nobody may report c's members again.
        Thread.sleep(3 * RedisPresence.SWEEP_MILLIS);
        assertThat(departures).hasSize(rooms.size()).allMatch(l -> l.dead().equals("c"));
        Left r1 = departures.stream().filter(l -> l.room().equals("r1")).findFirst().orElseThrow();
        assertThat(r1.names()).containsExactlyInAnyOrder("carol", "carol", "dave");
        System.out.printf("killed node's members reported left after %d ms (bound %d ms)%n", tookMillis, BOUND_MILLIS);
    }

    @Test
    void countsHealAfterRedisIsEmptied() throws Exception {
        RedisProcess redis = keep(RedisProcess.start(dir));
        Node a = node(redis.url(), "a");
        Node b = node(redis.url(), "b");
        get(a.presence().join("lobby", "alice"));
        get(b.presence().join("lobby", "bob"));
        get(b.presence().join("lobby", "bob"));

        redis.flushAll();
        assertThat(get(a.presence().count("lobby"))).isZero();

        await(Duration.ofMillis(3 * RedisPresence.HEARTBEAT_MILLIS + SLACK_MILLIS), "counts written back", () -> {
            try {
                return get(a.presence().count("lobby")) == 3;
            } catch (Exception e) {
                return false;
            }
        });
        assertThat(a.presence().registrations()).isEqualTo(2);
        assertThat(get(b.presence().leave("lobby", "bob"))).isEqualTo(2);
    }

    @Test
    void cleanCloseRemovesItsMembersAtOnceAndIsNotReportedAsDeath() throws Exception {
        RedisProcess redis = keep(RedisProcess.start(dir));
        Node a = node(redis.url(), "a");
        Node b = node(redis.url(), "b");
        get(a.presence().join("lobby", "alice"));
        get(b.presence().join("lobby", "bob"));

        b.presence().close();

        assertThat(get(a.presence().count("lobby"))).isEqualTo(1);
        Thread.sleep(BOUND_MILLIS + RedisPresence.SWEEP_MILLIS);
        assertThat(departures).isEmpty();
    }

    @Test
    void aChangeRedisRefusedIsWrittenBackByTheNextHeartbeat() throws Exception {
        RedisProcess redis = keep(RedisProcess.start(dir));
        Node a = node(redis.url(), "a");
        Node b = node(redis.url(), "b");
        get(a.presence().join("lobby", "alice"));
        get(a.presence().join("lobby", "ann"));

        // Redis keeps its data but refuses writes for a moment (out of memory); the heartbeat key stays.
        assertThat(redis.command("CONFIG", "SET", "maxmemory-policy", "noeviction")).isEqualTo("OK");
        assertThat(redis.command("CONFIG", "SET", "maxmemory", "1")).isEqualTo("OK");
        assertThat(b.presence().join("lobby", "bob").toCompletableFuture()).failsWithin(Duration.ofSeconds(5));
        assertThat(a.presence().leave("lobby", "ann").toCompletableFuture()).failsWithin(Duration.ofSeconds(5));
        assertThat(redis.command("CONFIG", "SET", "maxmemory", "0")).isEqualTo("OK");

        // Both failures left the count at 2 by chance (bob missing, ann still there): check the fields.
        await(Duration.ofMillis(3 * RedisPresence.HEARTBEAT_MILLIS + SLACK_MILLIS), "bob written, ann removed", () -> {
            try {
                return redis.command("HGET", "parley:{lobby}:members", "b/bob").equals("1")
                        && redis.command("HEXISTS", "parley:{lobby}:members", "a/ann").equals("0");
            } catch (java.io.IOException e) {
                return false;
            }
        });
        assertThat(get(a.presence().count("lobby"))).isEqualTo(2);
        assertThat(redis.command("HGET", "parley:{lobby}:members", "a/alice")).isEqualTo("1");
        assertThat(a.presence().registrations()).isEqualTo(1);
    }
}
