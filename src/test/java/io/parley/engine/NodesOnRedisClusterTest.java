package io.parley.engine;

import io.parley.engine.cluster.RedisAddress;
import io.parley.store.PostgresHistoryStore;
import io.parley.store.PostgresUrl;
import io.parley.store.StoredMessage;
import io.parley.testing.PostgresProcess;
import io.parley.testing.RedisProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Two nodes on a Redis Cluster of three masters: rooms whose channels live on different masters (the
 * room's hash tag picks the slot) each keep one order on both nodes. What spreads a deployment's rooms
 * over a cluster's masters.
 */
class NodesOnRedisClusterTest {

    @TempDir
    Path dir;

    @Test
    void roomsOnDifferentMastersEachKeepOneOrderOnEveryNode() throws Exception {
        assumeTrue(PostgresProcess.unavailableReason() == null, PostgresProcess.unavailableReason());
        assumeTrue(RedisProcess.available(), "redis-server is not installed (.ci/run installs it)");
        List<RedisProcess> masters = RedisProcess.cluster(dir.resolve("redis"), 3);
        List<ExecutorService> loops = List.of(Executors.newSingleThreadExecutor(), Executors.newSingleThreadExecutor());
        List<RedisBroker> nodes = new ArrayList<>();
        List<PostgresHistoryStore> stores = new ArrayList<>();
        try (PostgresProcess postgres = PostgresProcess.launch()) {
            String database = postgres.createDatabase();
            String cluster = masters.stream().map(RedisProcess::url).collect(Collectors.joining(","));
            for (int i = 0; i < 2; i++) {
                PostgresHistoryStore store = PostgresHistoryStore.open(PostgresUrl.parse(database));
                stores.add(store);
                nodes.add(RedisBroker.start(store, RedisAddress.parse(cluster), BrokerContract.TEXT, 50, 0, 1000, "cnode" + i,
                        (thread, cause) -> { throw new AssertionError(thread.getName() + " died", cause); }));
            }
            // Rooms on at least two different masters.
            List<String> rooms = List.of("red", "green", "blue", "amber", "violet", "teal");
            Map<String, String> slotOwner = new TreeMap<>();
            for (String room : rooms) {
                slotOwner.put(room, masters.get(0).command("CLUSTER", "KEYSLOT", "parley:{" + room + "}"));
            }
            assertThat(masterCount(slotOwner)).as("masters holding the test rooms").isGreaterThanOrEqualTo(2);

            List<List<String>> seen = new ArrayList<>();
            for (int node = 0; node < 2; node++) {
                List<String> frames = Collections.synchronizedList(new ArrayList<>());
                seen.add(frames);
                ExecutorService loop = loops.get(node);
                RedisBroker broker = nodes.get(node);
                Subscriber member = new Subscriber() {
                    @Override
                    public ExecutorService executor() {
                        return loop;
                    }

                    @Override
                    public void deliver(byte[] frame) {
                        frames.add(new String(frame, StandardCharsets.UTF_8));
                    }

                    @Override
                    public void flush() { }
                };
                for (String room : rooms) {
                    CompletableFuture<Replay> joined = new CompletableFuture<>();
                    loop.submit(() -> broker.subscribe(room, member, "m", "m", -1, broker.asker(), new JoinListener() {
                        @Override
                        public void joined(int members, Replay replay) {
                            joined.complete(replay);
                        }

                        @Override
                        public void failed(Failure failure) {
                            joined.completeExceptionally(new AssertionError(failure));
                        }
                    })).get();
                    joined.get(10, TimeUnit.SECONDS);
                }
            }
            int perRoom = 30;
            List<CompletableFuture<StoredMessage>> acks = new ArrayList<>();
            for (int i = 0; i < perRoom; i++) {
                for (String room : rooms) {
                    int node = i % 2;
                    CompletableFuture<StoredMessage> ack = new CompletableFuture<>();
                    acks.add(ack);
                    ExecutorService loop = loops.get(node);
                    String id = room + i;
                    loop.execute(() -> nodes.get(node).publish(loop, room, id, "guest:x", "x", "t", new PublishListener() {
                        @Override
                        public void stored(StoredMessage message) {
                            ack.complete(message);
                        }

                        @Override
                        public void failed(Failure failure) {
                            ack.completeExceptionally(new AssertionError(failure));
                        }
                    }));
                }
            }
            for (CompletableFuture<StoredMessage> ack : acks) {
                ack.get(20, TimeUnit.SECONDS);
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
            for (List<String> frames : seen) {
                while (messages(frames) < rooms.size() * perRoom && System.nanoTime() < deadline) {
                    Thread.sleep(10);
                }
                for (String room : rooms) {
                    List<Long> seqs;
                    synchronized (frames) {
                        seqs = frames.stream().filter(f -> f.startsWith("m " + room + " "))
                                .map(f -> Long.parseLong(f.split(" ")[2])).toList();
                    }
                    List<Long> expected = new ArrayList<>();
                    for (long s = 1; s <= perRoom; s++) {
                        expected.add(s);
                    }
                    assertThat(seqs).as("room %s on a node", room).isEqualTo(expected);
                }
            }
        } finally {
            nodes.forEach(RedisBroker::close);
            stores.forEach(PostgresHistoryStore::close);
            loops.forEach(ExecutorService::shutdownNow);
            masters.forEach(RedisProcess::close);
        }
    }

    private static long messages(List<String> frames) {
        synchronized (frames) {
            return frames.stream().filter(f -> f.startsWith("m ")).count();
        }
    }

    /**
     * How many masters own the slots of these rooms' channels: {@code redis-cli --cluster create} gives
     * three masters the ranges 0-5460, 5461-10922 and 10923-16383.
     */
    private static long masterCount(Map<String, String> slotOwner) {
        return slotOwner.values().stream().map(Integer::parseInt)
                .map(slot -> slot < 5461 ? 0 : slot < 10923 ? 1 : 2).distinct().count();
    }
}
