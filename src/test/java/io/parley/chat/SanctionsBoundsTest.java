package io.parley.chat;

import io.parley.engine.LocalBroker;
import io.parley.protocol.ProtocolCodec;
import io.parley.store.AccountStore;
import io.parley.store.HistoryStore;
import io.parley.store.Sanction;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * What {@link Sanctions}' one worker may be made to hold, on a real SQLite database watched through
 * {@link ObservedAccountStore}: a flood of notices costs two reads, not one each, and still finds the ban
 * made during it; moderators' requests past {@link Sanctions#QUEUE} are refused {@code overloaded} at
 * once, and every one accepted is applied. (The same flood over Redis: {@code SanctionsAcrossNodesTest}.)
 */
class SanctionsBoundsTest {

    @TempDir
    Path dir;
    private HistoryStore history;
    private LocalBroker broker;
    private AccountStore accounts;
    private ObservedAccountStore observed;
    private Sanctions sanctions;

    @BeforeEach
    void start() {
        history = HistoryStore.openSqlite(dir, false);
        broker = new LocalBroker(history, new ProtocolCodec(), 50, 0);
        accounts = AccountStore.openSqlite(dir, Duration.ofSeconds(5));
        observed = ObservedAccountStore.of(accounts);
        // An hour: only the reads this test asks for happen.
        sanctions = Sanctions.start(observed.store(), broker, "bounds", 3600);
    }

    @AfterEach
    void stop() {
        sanctions.close();
        broker.close();
        accounts.close();
        history.close();
    }

    @Test
    void aFloodOfNoticesCostsTwoReadsAndStillFindsTheBanMadeDuringIt() throws Exception {
        int before = observed.reads();
        ObservedAccountStore.Hold read = observed.holdNextRead();
        sanctions.reloadSoon();
        // The re-read has read (no ban yet) and is held before applying it.
        read.awaitHeld();
        // Another node bans now, and its notice comes after; then a flood of 10,000 notices from 4 threads.
        accounts.putSanction(new Sanction("lobby", "guest:eve", Sanction.BAN, 0, "u-mod", System.currentTimeMillis()));
        ExecutorService threads = Executors.newFixedThreadPool(4);
        try {
            List<Future<?>> flood = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                flood.add(threads.submit(() -> {
                    for (int i = 0; i < 2_500; i++) {
                        sanctions.reloadSoon();
                    }
                }));
            }
            for (Future<?> f : flood) {
                f.get(10, TimeUnit.SECONDS);
            }
        } finally {
            threads.shutdownNow();
        }
        assertThat(sanctions.banned("lobby", "guest:eve")).as("the held read had not seen the ban").isFalse();
        long released = System.nanoTime();
        read.release();
        // A request queued now runs after every re-read the flood queued.
        sanctions.auditLog("lobby", Long.MAX_VALUE, 1).get(30, TimeUnit.SECONDS);
        System.out.printf("10,000 notices during a read: %d reads, the worker idle again %d ms after%n",
                observed.reads() - before, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - released));
        assertThat(sanctions.banned("lobby", "guest:eve")).as("the ban made after the held read began").isTrue();
        assertThat(observed.reads() - before).as("the held read and one more for the whole flood").isEqualTo(2);
    }

    @Test
    void moderatorsPastTheQueueAreRefusedOverloadedAndEveryoneAcceptedIsApplied() throws Exception {
        ObservedAccountStore.Hold writes = observed.holdWrites();
        long now = System.currentTimeMillis();
        List<CompletableFuture<Sanction>> accepted = new ArrayList<>();
        accepted.add(sanctions.put(ban("user-0", now)));
        // The first is on the worker, held at its write: the others wait behind it.
        writes.awaitHeld();
        for (int i = 1; i < Sanctions.QUEUE; i++) {
            accepted.add(sanctions.put(ban("user-" + i, now)));
        }
        assertThatThrownBy(() -> sanctions.put(ban("user-late", now)))
                .isInstanceOfSatisfying(ChatException.class, e -> {
                    assertThat(e.code()).isEqualTo(ErrorCode.OVERLOADED);
                    assertThat(e.retryAfterMillis()).isPositive();
                });
        assertThatThrownBy(() -> sanctions.lift("lobby", "user-0", Sanction.BAN, "u-mod"))
                .isInstanceOfSatisfying(ChatException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.OVERLOADED));
        assertThatThrownBy(() -> sanctions.putSlowMode("lobby", 5, "u-mod"))
                .isInstanceOfSatisfying(ChatException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.OVERLOADED));
        assertThatThrownBy(() -> sanctions.auditLog("lobby", Long.MAX_VALUE, 10))
                .isInstanceOfSatisfying(ChatException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.OVERLOADED));
        // A deletion's audit entry: its place is asked for before the deletion is.
        assertThatThrownBy(sanctions::reserve)
                .isInstanceOfSatisfying(ChatException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.OVERLOADED));

        long released = System.nanoTime();
        writes.release();
        for (CompletableFuture<Sanction> f : accepted) {
            f.get(30, TimeUnit.SECONDS);
        }
        long micros = TimeUnit.NANOSECONDS.toMicros(System.nanoTime() - released);
        System.out.printf("%d bans (each a write, a full re-read, a notice and an audit row) in %d ms: %d µs each%n",
                Sanctions.QUEUE, micros / 1000, micros / Sanctions.QUEUE);
        for (int i = 0; i < Sanctions.QUEUE; i++) {
            assertThat(sanctions.banned("lobby", "user-" + i)).as("user-" + i).isTrue();
        }
        assertThat(sanctions.banned("lobby", "user-late")).isFalse();
        assertThat(accounts.sanctions(System.currentTimeMillis())).hasSize(Sanctions.QUEUE);
        assertThat(accounts.audit("lobby", Long.MAX_VALUE, 500)).hasSize(Sanctions.QUEUE);
        // Every place is given back: a moderator is served again.
        assertThat(sanctions.put(ban("user-late", now)).get(10, TimeUnit.SECONDS).user()).isEqualTo("user-late");
        assertThat(sanctions.banned("lobby", "user-late")).isTrue();
    }

    private static Sanction ban(String user, long now) {
        return new Sanction("lobby", user, Sanction.BAN, 0, "u-mod", now);
    }
}
