package io.parley.chat;

import io.parley.config.ServerConfig;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class RateLimitsTest {

    @Test
    void aUsersBucketIsForgottenOnlyOnceItHasRefilled() throws Exception {
        // 20 a second, bursts of 40: one send is refilled within 50 ms.
        RateLimits limits = new RateLimits(ServerConfig.Admission.defaults().withRates(10, 20, 50));
        limits.userSends("guest:ada");
        limits.forgetFull();
        assertThat(limits.trackedUsers()).as("a bucket still short of a token").isEqualTo(1);

        assertThat(forgottenWithin(Duration.ofSeconds(5), limits::trackedUsers, limits))
                .as("a full bucket, the same as a new one").isTrue();
    }

    @Test
    void forgettingAUserDoesNotForgiveWhatItOwes() {
        RateLimits limits = new RateLimits(ServerConfig.Admission.defaults().withRates(10, 1, 50));
        limits.userSends("guest:ada");
        limits.userSends("guest:ada");
        limits.forgetFull();
        assertThatThrownBy(() -> limits.userSends("guest:ada")).isInstanceOfSatisfying(ChatException.class,
                e -> assertThat(e.code()).isEqualTo(ErrorCode.RATE_LIMITED));
    }

    @Test
    void clientsBehindAProxyHaveBucketsOfTheirOwnForgottenOnceFull() throws Exception {
        RateLimits limits = new RateLimits(ServerConfig.Admission.defaults().withRates(10, 20, 1));
        InetAddress ada = InetAddress.getByAddress(new byte[] {(byte) 203, 0, 113, 5});
        InetAddress bob = InetAddress.getByAddress(new byte[] {(byte) 203, 0, 113, 6});
        long start = System.nanoTime();
        limits.forClientBehindProxy(ada).request();
        limits.forClientBehindProxy(ada).request();
        assertThatThrownBy(() -> limits.forClientBehindProxy(ada).request()).isInstanceOfSatisfying(ChatException.class,
                e -> assertThat(e.code()).isEqualTo(ErrorCode.RATE_LIMITED));
        limits.forClientBehindProxy(bob).request();
        limits.forClientBehindProxy(bob).request();

        // Both are two tokens short: two seconds until they are full again.
        limits.forgetFull();
        assertThat(limits.trackedClientsBehindProxies()).as("clients still short of tokens").isEqualTo(2);
        assertThat(forgottenWithin(Duration.ofSeconds(10), limits::trackedClientsBehindProxies, limits))
                .as("full buckets, the same as new ones").isTrue();
        assertThat(Duration.ofNanos(System.nanoTime() - start)).as("not before they refilled")
                .isGreaterThan(Duration.ofMillis(1900));
    }

    @Test
    void guestsFromOneAddressShareOneAllowanceOverEveryConnection() throws Exception {
        // 10 a second per connection would let 100 fresh connections send 2,000 at once; per address, 2 a
        // second allows a burst of 4 from all of them together.
        RateLimits limits = new RateLimits(ServerConfig.Admission.defaults().withGuestSendsPerAddress(2));
        InetAddress office = InetAddress.getByAddress(new byte[] {(byte) 203, 0, 113, 5});
        InetAddress elsewhere = InetAddress.getByAddress(new byte[] {(byte) 198, 51, 100, 7});
        for (int i = 0; i < 4; i++) {
            limits.forConnection(office).guestSend();
        }
        assertThatThrownBy(() -> limits.forConnection(office).guestSend())
                .isInstanceOfSatisfying(ChatException.class, e -> {
                    assertThat(e.code()).isEqualTo(ErrorCode.RATE_LIMITED);
                    assertThat(e.retryAfterMillis()).isPositive();
                });
        limits.forConnection(elsewhere).guestSend();
        assertThat(limits.trackedGuestAddresses()).isEqualTo(2);
    }

    @Test
    void anIpv6HostIsOneAddressWhicheverOfItsSlash64ItSendsFrom() throws Exception {
        RateLimits limits = new RateLimits(ServerConfig.Admission.defaults().withGuestSendsPerAddress(1));
        limits.forConnection(InetAddress.getByName("2001:db8:1:2::1")).guestSend();
        limits.forConnection(InetAddress.getByName("2001:db8:1:2:aaaa::9")).guestSend();
        assertThatThrownBy(() -> limits.forConnection(InetAddress.getByName("2001:db8:1:2:ffff:ffff:ffff:ffff"))
                .guestSend()).isInstanceOfSatisfying(ChatException.class,
                        e -> assertThat(e.code()).isEqualTo(ErrorCode.RATE_LIMITED));
        limits.forConnection(InetAddress.getByName("2001:db8:1:3::1")).guestSend();
    }

    @Test
    void noPerAddressLimitWhenTurnedOff() throws Exception {
        RateLimits limits = new RateLimits(ServerConfig.Admission.defaults().withoutRateLimits());
        InetAddress office = InetAddress.getByAddress(new byte[] {(byte) 203, 0, 113, 5});
        for (int i = 0; i < 1000; i++) {
            limits.forConnection(office).guestSend();
        }
        assertThat(limits.trackedGuestAddresses()).isZero();
    }

    /** Calls {@code forgetFull} until {@code tracked} is 0, or the wait is over: the buckets refill by the clock. */
    private static boolean forgottenWithin(Duration wait, java.util.function.IntSupplier tracked, RateLimits limits)
            throws InterruptedException {
        long deadline = System.nanoTime() + wait.toNanos();
        while (System.nanoTime() < deadline) {
            limits.forgetFull();
            if (tracked.getAsInt() == 0) {
                return true;
            }
            Thread.sleep(10);
        }
        return false;
    }
}
