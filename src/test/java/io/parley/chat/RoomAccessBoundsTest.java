package io.parley.chat;

import io.parley.auth.Identity;
import io.parley.store.AccountStore;
import io.parley.store.RoomRecord;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.IntFunction;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * What a flood of other nodes' notices may make {@link RoomAccess}' one worker hold, on a real SQLite
 * database watched through {@link ObservedRoomStore}: notices for one room cost two reads, not one each;
 * notices for thousands of made-up rooms keep at most {@link RoomAccess#WAITING_ROOMS} waiting and one
 * reload of every room; and in both the change made during the flood is in force within a second after
 * it, with the periodic reload (the backstop) an hour away. This node's own changes keep their bound of
 * {@link RoomAccess#QUEUE}, past which they are refused {@code overloaded}, and a notice is still heard
 * behind a full queue of them.
 */
class RoomAccessBoundsTest {

    /** How soon after a flood a change made during it must be in force: well inside the 3 s backstop. */
    private static final Duration PROMPTLY = Duration.ofSeconds(1);
    private static final Identity ADMIN = RoomAccessTest.user("ada", "admin");

    @TempDir
    Path dir;
    private AccountStore accounts;
    private ObservedRoomStore observed;
    private RoomAccess access;

    @BeforeEach
    void start() {
        accounts = AccountStore.openSqlite(dir, Duration.ofSeconds(5));
        accounts.rooms().create(new RoomRecord("club", RoomRecord.PRIVATE, RoomRecord.EVERYONE, "olga", 1,
                Map.of("olga", RoomRecord.OWNER)));
        observed = new ObservedRoomStore(accounts.rooms());
        // An hour: only the reads this test asks for happen.
        access = new RoomAccess(observed, true, "bounds", Duration.ofHours(1));
    }

    @AfterEach
    void stop() {
        access.close();
        accounts.close();
    }

    @Test
    void aFloodOfNoticesForOneRoomCostsTwoReadsAndStillFindsTheChangeMadeDuringIt() throws Exception {
        ObservedAccountStore.Hold read = observed.holdNextFind("club");
        access.noticed("club");
        // The re-read has read (still private) and is held before applying it.
        read.awaitHeld();
        // Another node makes the room public now, and its notice comes after; then 10,000 notices more.
        accounts.rooms().setSettings("club", RoomRecord.PUBLIC, RoomRecord.EVERYONE);
        flood(i -> "club");
        assertThat(access.record("club").kind()).as("the held read had not seen the change").isEqualTo(RoomRecord.PRIVATE);

        long released = System.nanoTime();
        read.release();
        long inForce = awaitPublic(released);
        // A change queued now runs after every re-read the flood queued.
        access.create(ADMIN, "barrier", null, null).get(30, TimeUnit.SECONDS);
        System.out.printf("10,001 notices of one room during a read: %d reads of it, the change in force %d ms after, "
                + "the worker idle %d ms after%n", observed.finds("club"), inForce,
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - released));
        assertThat(observed.finds("club")).as("the held read and one more for the whole flood").isEqualTo(2);
        assertThat(observed.lists()).as("no reload of every room: the one at start only").isEqualTo(1);
    }

    @Test
    void aFloodOfMadeUpRoomNamesStaysBoundedAndARealChangeAmongItIsInForceWithinASecond() throws Exception {
        ObservedAccountStore.Hold read = observed.holdNextFind("club");
        access.noticed("club");
        read.awaitHeld();
        // 10,000 names nobody made (a hostile publisher), the real change's notice in the middle of them.
        flood(i -> "made-up-" + i);
        accounts.rooms().setSettings("club", RoomRecord.PUBLIC, RoomRecord.EVERYONE);
        access.noticed("club");
        flood(i -> "more-made-up-" + i);
        // The flood takes no place of this node's own changes: one is accepted, and done after the held read.
        CompletableFuture<RoomRecord> grant = access.grant(ADMIN, "club", "mel", RoomRecord.MEMBER);
        assertThat(access.roomsWaiting()).as("rooms waiting for their own read").isLessThanOrEqualTo(RoomAccess.WAITING_ROOMS);

        long released = System.nanoTime();
        read.release();
        long inForce = awaitPublic(released);
        assertThat(grant.get(10, TimeUnit.SECONDS).roles()).containsEntry("mel", RoomRecord.MEMBER);
        access.create(ADMIN, "barrier", null, null).get(30, TimeUnit.SECONDS);
        // Less the reads back of the two changes.
        int finds = observed.finds() - observed.finds("barrier") - 1;
        System.out.printf("20,001 notices of 20,001 rooms during a read: %d notices' reads of one room, %d of every room, "
                + "the change in force %d ms after, the worker idle %d ms after%n", finds, observed.lists() - 1, inForce,
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - released));
        assertThat(finds).as("the held read and one each for the rooms allowed to wait")
                .isLessThanOrEqualTo(1 + RoomAccess.WAITING_ROOMS);
        assertThat(observed.lists() - 1).as("one reload of every room for all the rest").isEqualTo(1);
        assertThat(access.roomsWaiting()).isZero();
        assertThat(access.record("made-up-1")).as("nobody made it").isNull();
    }

    @Test
    void changesPastTheQueueAreRefusedOverloadedAndEveryOneAcceptedIsApplied() throws Exception {
        for (int i = 0; i < RoomAccess.QUEUE; i++) {
            accounts.rooms().create(new RoomRecord("room-" + i, RoomRecord.PUBLIC, RoomRecord.EVERYONE, "olga", 1, Map.of()));
        }
        access.reloadSoon();
        await(() -> access.record("room-" + (RoomAccess.QUEUE - 1)) != null, System.nanoTime() + TimeUnit.SECONDS.toNanos(10),
                "every room read");
        ObservedAccountStore.Hold writes = observed.holdWrites();
        List<CompletableFuture<RoomRecord>> accepted = new ArrayList<>();
        accepted.add(access.set(ADMIN, "room-0", RoomRecord.PRIVATE, null));
        // The first is on the worker, held at its write: the others wait behind it.
        writes.awaitHeld();
        for (int i = 1; i < RoomAccess.QUEUE; i++) {
            accepted.add(access.set(ADMIN, "room-" + i, RoomRecord.PRIVATE, null));
        }
        assertThatThrownBy(() -> access.set(ADMIN, "club", RoomRecord.PUBLIC, null))
                .isInstanceOfSatisfying(ChatException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.OVERLOADED));
        // Notices still queue their reads beside the full queue of changes.
        accounts.rooms().grant("club", "mel", RoomRecord.MEMBER);
        access.noticed("club");

        long released = System.nanoTime();
        writes.release();
        for (CompletableFuture<RoomRecord> f : accepted) {
            assertThat(f.get(30, TimeUnit.SECONDS).kind()).isEqualTo(RoomRecord.PRIVATE);
        }
        System.out.printf("%d room changes (a write and a read each) in %d ms%n", RoomAccess.QUEUE,
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - released));
        await(() -> access.record("club").roles().containsKey("mel"), released + PROMPTLY.toNanos(),
                "the notice heard behind the full queue read within " + PROMPTLY.toMillis() + " ms");
        // Every place is given back: a change is accepted again.
        assertThat(access.set(ADMIN, "club", RoomRecord.PUBLIC, null).get(10, TimeUnit.SECONDS).kind())
                .isEqualTo(RoomRecord.PUBLIC);
    }

    /** 10,000 notices from 4 threads at once, the rooms named by {@code room} (of 0 to 9,999). */
    private void flood(IntFunction<String> room) throws Exception {
        ExecutorService threads = Executors.newFixedThreadPool(4);
        try {
            List<Future<?>> flood = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                int from = t * 2_500;
                flood.add(threads.submit(() -> {
                    for (int i = from; i < from + 2_500; i++) {
                        access.noticed(room.apply(i));
                    }
                }));
            }
            for (Future<?> f : flood) {
                f.get(10, TimeUnit.SECONDS);
            }
        } finally {
            threads.shutdownNow();
        }
    }

    /** Waits until "club" is public here, at most {@link #PROMPTLY} after {@code released}; the ms it took. */
    private long awaitPublic(long released) throws InterruptedException {
        await(() -> access.record("club").kind().equals(RoomRecord.PUBLIC), released + PROMPTLY.toNanos(),
                "the change made during the flood in force within " + PROMPTLY.toMillis() + " ms");
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - released);
    }

    /** Polls {@code done} until it holds; fails once {@link System#nanoTime} passes {@code deadline}. */
    private static void await(BooleanSupplier done, long deadline, String what) throws InterruptedException {
        while (!done.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not so: " + what);
            }
            Thread.sleep(5);
        }
    }
}
