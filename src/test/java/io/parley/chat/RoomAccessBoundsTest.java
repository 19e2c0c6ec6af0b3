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
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.IntFunction;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What a flood of other nodes' notices may make {@link RoomAccess}' one worker hold, on a real SQLite
 * database watched through {@link ObservedRoomStore}: notices for one room cost two reads, not one each;
 * notices for thousands of made-up rooms keep at most {@link RoomAccess#WAITING_ROOMS} waiting and one
 * reload of every room; and in both the change made during the flood is in force within a second after
 * it, with the periodic reload (the backstop) an hour away.
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
        assertThat(access.roomsWaiting()).as("rooms waiting for their own read").isLessThanOrEqualTo(RoomAccess.WAITING_ROOMS);

        long released = System.nanoTime();
        read.release();
        long inForce = awaitPublic(released);
        access.create(ADMIN, "barrier", null, null).get(30, TimeUnit.SECONDS);
        int finds = observed.finds() - observed.finds("barrier");
        System.out.printf("20,001 notices of 20,001 rooms during a read: %d reads of one room, %d of every room, "
                + "the change in force %d ms after, the worker idle %d ms after%n", finds, observed.lists() - 1, inForce,
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - released));
        assertThat(finds).as("the held read and one each for the rooms allowed to wait")
                .isLessThanOrEqualTo(1 + RoomAccess.WAITING_ROOMS);
        assertThat(observed.lists() - 1).as("one reload of every room for all the rest").isEqualTo(1);
        assertThat(access.roomsWaiting()).isZero();
        assertThat(access.record("made-up-1")).as("nobody made it").isNull();
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
        long deadline = released + PROMPTLY.toNanos();
        while (!access.record("club").kind().equals(RoomRecord.PUBLIC)) {
            assertThat(System.nanoTime()).as("the change made during the flood in force within %s", PROMPTLY)
                    .isLessThan(deadline);
            Thread.sleep(5);
        }
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - released);
    }
}
