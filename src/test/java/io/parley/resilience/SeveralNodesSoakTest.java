package io.parley.resilience;

import io.parley.testing.PostgresProcess;
import io.parley.testing.RedisProcess;
import io.parley.testing.ServeProcess;
import io.parley.testing.StoredHistory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@link SoakTest}'s clients against three {@code parley serve} processes sharing their rooms through
 * one PostgreSQL and one Redis, while the nodes are killed with SIGKILL one after another and started
 * again. Each client connects to a node picked at random at every (re)connect, so it re-joins with
 * {@code since} on another node than the one it was on, and resends unacknowledged messages there.
 * The same checks as the single-node soak: no loss, no duplicate, order kept, every view equal to
 * PostgreSQL's history.
 *
 * <p>It runs {@value #DEFAULT_SECONDS} s by default; {@code -Dparley.soak.nodes.seconds=N} for longer.
 */
class SeveralNodesSoakTest {

    static final int DEFAULT_SECONDS = 15;
    private static final int SECONDS = Integer.getInteger("parley.soak.nodes.seconds", DEFAULT_SECONDS);
    /** How long a killed node stays down before it is started again. */
    private static final long DOWN_MILLIS = 1_500;
    /**
     * How often a node is killed, once all three are up again: three kills in the default 15 s (measured
     * three times, 2026-12), where a kill every 7 s gave four in the 30 s the test used to run.
     */
    private static final long KILL_EVERY_MILLIS = 4_000;

    @TempDir
    Path dir;

    @Test
    void clientsSpreadOverThreeNodesThatKeepDyingMissNothingAndNothingIsStoredTwice() throws Exception {
        assumeTrue(PostgresProcess.unavailableReason() == null, PostgresProcess.unavailableReason());
        assumeTrue(RedisProcess.available(), "redis-server is not installed (.ci/run installs it)");
        try (PostgresProcess postgres = PostgresProcess.launch();
             RedisProcess redis = RedisProcess.start(Files.createDirectories(dir.resolve("redis")))) {
            String database = postgres.createDatabase();
            String[] args = {"--postgres-url", database, "--redis-url", redis.url()};
            List<Node> nodes = new ArrayList<>();
            try {
                for (int i = 0; i < 3; i++) {
                    nodes.add(new Node(i, dir, args));
                }
            } catch (Exception | Error e) {
                nodes.forEach(Node::close);
                throw e;
            }
            Random random = new Random(Long.getLong("parley.soak.seed", 3L));
            long[] nextKill = {System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(KILL_EVERY_MILLIS)};
            int[] kills = {0};
            System.out.printf("several-nodes soak: %d s, 3 nodes, a kill every %d s%n", SECONDS, KILL_EVERY_MILLIS / 1000);
            try {
                SoakTest.soak(SECONDS, () -> {
                    List<Node> live = nodes.stream().filter(Node::up).toList();
                    List<Node> pick = live.isEmpty() ? nodes : live;
                    return pick.get(ThreadLocalRandom.current().nextInt(pick.size())).chatUri();
                }, true, () -> {
                    long now = System.nanoTime();
                    for (Node n : nodes) {
                        n.restartIfDue(now);
                    }
                    if (now >= nextKill[0] && nodes.stream().allMatch(Node::up)) {
                        nodes.get(random.nextInt(nodes.size())).kill(now);
                        kills[0]++;
                        nextKill[0] = now + TimeUnit.MILLISECONDS.toNanos(KILL_EVERY_MILLIS);
                    }
                }, () -> {
                    System.out.printf("several-nodes soak: %d nodes killed with SIGKILL and started again%n", kills[0]);
                    return StoredHistory.fromPostgres(database);
                });
            } finally {
                nodes.forEach(Node::close);
            }
        }
    }

    /** One node: a {@code parley serve} process that can be killed and started again on its port. */
    private static final class Node implements AutoCloseable {
        final int index;
        final Path dir;
        final String[] args;
        ServeProcess process;
        int port;
        long restartAt;
        int lives;

        Node(int index, Path dir, String[] args) throws Exception {
            this.index = index;
            this.dir = dir;
            this.args = args;
            process = ServeProcess.start(Files.createDirectories(dir.resolve("node" + index)),
                    dir.resolve("node" + index + ".log"), args);
            port = process.port();
        }

        boolean up() {
            return process != null;
        }

        URI chatUri() {
            return URI.create("ws://127.0.0.1:" + port + "/chat");
        }

        void kill(long now) throws Exception {
            process.kill9();
            process = null;
            restartAt = now + TimeUnit.MILLISECONDS.toNanos(DOWN_MILLIS);
        }

        void restartIfDue(long now) throws Exception {
            if (process == null && now >= restartAt) {
                lives++;
                process = ServeProcess.start(port, dir.resolve("node" + index),
                        dir.resolve("node" + index + "-" + lives + ".log"), args);
            }
        }

        @Override
        public void close() {
            if (process != null) {
                process.close();
            }
        }
    }
}
