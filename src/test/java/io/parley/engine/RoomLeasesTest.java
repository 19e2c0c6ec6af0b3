package io.parley.engine;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A room's leases expire when they are due, and only then: in the order of their expiry, whatever order
 * they were made in, later when renewed, never while a poll waits on one, and never once a subscription
 * took one over. Times are nanoTime values given by the test.
 */
class RoomLeasesTest {

    private static final long T0 = 1_000_000_000L;

    private final Room room = new Room("r", 0, 1, List.of(), 10);

    @Test
    void leasesExpireInTheOrderTheyAreDueNotTheOrderTheyWereMade() {
        List<String> expected = new ArrayList<>();
        for (int i = 0; i < 1000; i++) {
            // made in an order unlike their expiry: i * 7 mod 1000 is each of 0..999 once
            int due = i * 7 % 1000;
            room.polled("u" + due, "user " + due, T0 + due, false);
        }
        for (int due = 0; due < 500; due++) {
            expected.add("user " + due);
        }

        assertThat(room.expire(T0 - 1)).isEmpty();
        assertThat(room.expire(T0 + 499)).containsExactlyInAnyOrderElementsOf(expected);
        assertThat(room.memberCount()).isEqualTo(500);
        assertThat(room.expire(T0 + 998)).hasSize(499);
        assertThat(room.expire(T0 + 999)).containsExactly("user 999");
        assertThat(room.hasLeases()).isFalse();
        assertThat(room.memberCount()).isZero();
    }

    @Test
    void aRenewedLeaseExpiresAtItsNewTimeOnly() {
        room.polled("ada", "Ada", T0 + 10, false);
        assertThat(room.polled("ada", "Ada", T0 + 100, false)).as("a renewal is not a new member").isFalse();

        assertThat(room.expire(T0 + 10)).isEmpty();
        assertThat(room.expire(T0 + 99)).isEmpty();
        assertThat(room.expire(T0 + 100)).containsExactly("Ada");
    }

    @Test
    void aWaitingPollHoldsItsLeaseUntilThePollEnds() {
        room.polled("ada", "Ada", T0 + 10, true);

        assertThat(room.expire(T0 + 20)).isEmpty();
        room.pollEnded("ada", T0 + 30);
        assertThat(room.expire(T0 + 29)).isEmpty();
        assertThat(room.expire(T0 + 30)).containsExactly("Ada");
    }

    @Test
    void aLeaseTakenOverBySubscriptionNeverExpiresUntilThatOneCloses() {
        Subscription first = new Subscription("r", null, "ada", "Ada", null, null);
        assertThat(room.add(first)).isTrue();
        assertThat(room.remove(first, T0 + 10)).as("lingers as a lease").isFalse();
        Subscription again = new Subscription("r", null, "ada", "Ada", null, null);
        assertThat(room.add(again)).as("a reconnect takes the lease over").isFalse();

        assertThat(room.expire(T0 + 10)).isEmpty();
        assertThat(room.memberCount()).isEqualTo(1);
        assertThat(room.liveCount()).isEqualTo(1);

        assertThat(room.remove(again, T0 + 50)).isFalse();
        assertThat(room.expire(T0 + 49)).isEmpty();
        assertThat(room.expire(T0 + 50)).containsExactly("Ada");
        assertThat(room.memberCount()).isZero();
    }

    @Test
    void twoLeasesOfOneUserExpireEachAtItsOwnTime() {
        Subscription phone = new Subscription("r", null, "ada", "Ada", null, null);
        Subscription laptop = new Subscription("r", null, "ada", "Ada", null, null);
        room.add(phone);
        room.add(laptop);
        room.remove(phone, T0 + 10);
        room.remove(laptop, T0 + 20);

        assertThat(room.expire(T0 + 10)).containsExactly("Ada");
        assertThat(room.memberCount()).isEqualTo(1);
        assertThat(room.expire(T0 + 20)).containsExactly("Ada");
        assertThat(room.hasLeases()).isFalse();
    }
}
