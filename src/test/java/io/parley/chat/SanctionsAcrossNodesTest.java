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
import org.junit.jupiter.api.AfterAll;
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
 */
class SanctionsAcrossNodesTest {

    private static NodeServices services;

    @BeforeAll
    static void startServices() throws Exception {
        services = NodeServices.start();
    }

    @AfterAll
    static void stopServices() {
        if (services != null) {
            services.close();
        }
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
            CompletableFuture<Replay> polled = new CompletableFuture<>();
            ExecutorService loop = Executors.newSingleThreadExecutor();
            open.add(loop::shutdownNow);
            brokers[1].poll(brokers[1].asker(), "lobby", null, null, 0, 10, false, loop, new PollListener() {
                @Override
                public void answered(Replay replay) {
                    polled.complete(replay);
                }

                @Override
                public void failed(Failure failure) {
                    polled.completeExceptionally(new AssertionError(failure));
                }
            });
            polled.get(10, TimeUnit.SECONDS);
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
