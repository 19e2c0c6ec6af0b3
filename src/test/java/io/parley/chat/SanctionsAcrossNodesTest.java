package io.parley.chat;

import io.parley.engine.Broker;
import io.parley.engine.Failure;
import io.parley.engine.PollListener;
import io.parley.engine.Replay;
import io.parley.engine.RedisBroker;
import io.parley.engine.cluster.RedisAddress;
import io.parley.protocol.ProtocolCodec;
import io.parley.store.AccountStore;
import io.parley.store.PostgresHistoryStore;
import io.parley.store.PostgresUrl;
import io.parley.store.Sanction;
import io.parley.testing.NodeServices;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Bans and timeouts across three nodes: a node serving the room, whose periodic re-read is set to an
 * hour, gets them through the Redis notice alone; a node not serving the room gets them by its re-read.
 * And a flood of notices over Redis costs a node two reads of the bans, not one each, and still brings
 * it the ban made during the flood.
 */
class SanctionsAcrossNodesTest {

    /** Closed by JUnit after the class (left null when the class is skipped). */
    @AutoClose
    private static NodeServices services;

    @BeforeAll
    static void startServices() throws Exception {
        services = NodeServices.start();
    }

    @Test
    void aBanAndATimeoutReachTheOtherNodeByTheNoticeAlone() throws Exception {
        String url = services.postgres().createDatabase();
        List<AutoCloseable> open = new ArrayList<>();
        try {
            // Node 1 serves the room (a poll loaded it) and re-reads hourly: only the notice can reach it.
            // Node 2 does not serve it, hears no notice, and re-reads every second: the backstop.
            Sanctions[] nodes = new Sanctions[3];
            Broker[] brokers = new Broker[3];
            for (int i = 0; i < 3; i++) {
                PostgresHistoryStore history = PostgresHistoryStore.open(PostgresUrl.parse(url));
                open.add(history);
                Broker broker = RedisBroker.start(history, RedisAddress.parse(services.redis().url()),
                        new ProtocolCodec(), 50, 0, 1000, "node" + i,
                        (thread, cause) -> { throw new AssertionError(thread.getName() + " died", cause); });
                open.add(broker);
                brokers[i] = broker;
                AccountStore accounts = AccountStore.openPostgres(PostgresUrl.parse(url));
                open.add(accounts);
                nodes[i] = Sanctions.start(accounts, broker, "node" + i, i == 2 ? 1 : 3600);
                open.add(nodes[i]);
            }
            ExecutorService loop = Executors.newSingleThreadExecutor();
            open.add(loop::shutdownNow);
            poll(brokers[1], loop).get(10, TimeUnit.SECONDS);
            long now = System.currentTimeMillis();
            long start = System.nanoTime();
            nodes[0].put(new Sanction("lobby", "guest:eve", Sanction.BAN, 0, "u-admin", now)).get(5, TimeUnit.SECONDS);
            awaitTrue(() -> nodes[1].banned("lobby", "guest:eve"));
            System.out.printf("a ban reached a node serving the room after %d ms%n",
                    TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
            awaitTrue(() -> nodes[2].banned("lobby", "guest:eve"));
            System.out.printf("a ban reached a node not serving the room after %d ms%n",
                    TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
            nodes[0].put(new Sanction("lobby", "guest:bob", Sanction.TIMEOUT, now + 60_000, "u-admin", now))
                    .get(5, TimeUnit.SECONDS);
            awaitTrue(() -> nodes[1].timedOutUntil("lobby", "guest:bob", now) == now + 60_000);
            nodes[0].lift("lobby", "guest:eve", Sanction.BAN, "u-admin").get(5, TimeUnit.SECONDS);
            awaitTrue(() -> !nodes[1].banned("lobby", "guest:eve"));
            assertThat(nodes[0].banned("other", "guest:eve")).isFalse();
        } finally {
            for (AutoCloseable c : open.reversed()) {
                c.close();
            }
        }
    }

    @Test
    void aFloodOfNoticesOverRedisCostsTwoReadsAndLosesNoBan() throws Exception {
        String url = services.postgres().createDatabase();
        List<AutoCloseable> open = new ArrayList<>();
        try {
            // Node 0 bans and floods the room's channel with notices; node 1 serves the room, re-reads
            // hourly (only notices reach it), and its reads of the bans are counted on its real store.
            Broker[] brokers = new Broker[2];
            Sanctions[] nodes = new Sanctions[2];
            ObservedAccountStore observed = null;
            for (int i = 0; i < 2; i++) {
                PostgresHistoryStore history = PostgresHistoryStore.open(PostgresUrl.parse(url));
                open.add(history);
                brokers[i] = RedisBroker.start(history, RedisAddress.parse(services.redis().url()),
                        new ProtocolCodec(), 50, 0, 1000, "flood" + i,
                        (thread, cause) -> { throw new AssertionError(thread.getName() + " died", cause); });
                open.add(brokers[i]);
                AccountStore accounts = AccountStore.openPostgres(PostgresUrl.parse(url));
                open.add(accounts);
                if (i == 1) {
                    observed = ObservedAccountStore.of(accounts);
                }
                nodes[i] = Sanctions.start(i == 1 ? observed.store() : accounts, brokers[i], "flood" + i, 3600);
                open.add(nodes[i]);
            }
            ExecutorService loop = Executors.newSingleThreadExecutor();
            open.add(loop::shutdownNow);
            poll(brokers[1], loop).get(10, TimeUnit.SECONDS);
            // Node 1 hears notices as Sanctions.start's listener does (one entry point), and also hears a
            // last notice of its own topic: the Redis thread hands notices over in order, so once that one
            // is heard every notice of the flood has been handed to Sanctions.
            CompletableFuture<Void> floodHeard = new CompletableFuture<>();
            brokers[1].onAnnouncement((room, topic) -> {
                if (topic.equals(Sanctions.TOPIC)) {
                    nodes[1].reloadSoon();
                } else if (topic.equals("end-of-flood")) {
                    floodHeard.complete(null);
                }
            });

            int before = observed.reads();
            ObservedAccountStore.Hold read = observed.holdNextRead();
            brokers[0].announce("lobby", Sanctions.TOPIC);
            // Node 1 heard it and has read (no ban yet); its read is held before it is applied.
            read.awaitHeld();
            nodes[0].put(new Sanction("lobby", "guest:eve", Sanction.BAN, 0, "u-mod", System.currentTimeMillis()))
                    .get(5, TimeUnit.SECONDS);
            for (int i = 0; i < 5_000; i++) {
                brokers[0].announce("lobby", Sanctions.TOPIC);
            }
            brokers[0].announce("lobby", "end-of-flood");
            floodHeard.get(20, TimeUnit.SECONDS);
            assertThat(nodes[1].banned("lobby", "guest:eve")).as("the held read had not seen the ban").isFalse();
            long released = System.nanoTime();
            read.release();
            // A request queued now runs after every re-read the flood queued.
            nodes[1].auditLog("lobby", Long.MAX_VALUE, 1).get(60, TimeUnit.SECONDS);
            System.out.printf("5,000 notices over Redis during a read: %d reads, the worker idle %d ms after%n",
                    observed.reads() - before, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - released));
            assertThat(nodes[1].banned("lobby", "guest:eve")).as("the ban made after the held read began").isTrue();
            assertThat(observed.reads() - before).as("the held read and one more for the whole flood").isEqualTo(2);
        } finally {
            for (AutoCloseable c : open.reversed()) {
                c.close();
            }
        }
    }

    /** An anonymous poll of lobby on {@code broker}, answered at once: the node serves the room from then on. */
    private static CompletableFuture<Replay> poll(Broker broker, ExecutorService loop) {
        CompletableFuture<Replay> polled = new CompletableFuture<>();
        broker.poll(broker.asker(), "lobby", null, null, 0, 10, false, loop, new PollListener() {
            @Override
            public void answered(Replay replay) {
                polled.complete(replay);
            }

            @Override
            public void failed(Failure failure) {
                polled.completeExceptionally(new AssertionError(failure));
            }
        });
        return polled;
    }

    private static void awaitTrue(BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("never happened within 10 s (the re-read is an hour away)");
            }
            Thread.sleep(10);
        }
    }
}
