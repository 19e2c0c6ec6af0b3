package io.parley.chat;

import io.github.bucket4j.Bucket;
import io.github.bucket4j.ConsumptionProbe;
import io.parley.config.ServerConfig;

import java.net.InetAddress;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Token buckets for the request rates of {@link ServerConfig.Admission}: one per connection (made by
 * {@link #forConnection()} and kept by its session) and one per user, shared by all of that user's
 * connections and HTTP requests whatever event loop they run on. A rate of r per second allows bursts
 * of 2r: a person pasting a few lines at once is not refused.
 *
 * <p>HTTP requests that a trusted proxy forwards count against buckets per client address instead
 * of the connection's ({@link #forClientBehindProxy}).
 *
 * <p>Threads: any. Bucket4j's buckets are lock-free; the maps are concurrent. A user's or a proxied
 * client's buckets are forgotten by {@link #forgetFull()} once they have refilled completely, because a
 * full bucket is the same as a new one: memory holds only those who sent lately.
 */
public final class RateLimits {

    private final int sendsPerConnection;
    private final int sendsPerUser;
    private final int requestsPerConnection;
    private final ConcurrentHashMap<String, Bucket> users = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<InetAddress, Connection> clientsBehindProxies = new ConcurrentHashMap<>();

    public RateLimits(ServerConfig.Admission admission) {
        this.sendsPerConnection = admission.sendsPerSecondPerConnection();
        this.sendsPerUser = admission.sendsPerSecondPerUser();
        this.requestsPerConnection = admission.requestsPerSecondPerConnection();
    }

    /** One connection's own limits. */
    public Connection forConnection() {
        return new Connection(sendsPerConnection, requestsPerConnection);
    }

    /**
     * The limits of a client that a trusted proxy forwards HTTP requests for. Its requests arrive over
     * the proxy's pooled connections, mixed with other clients', so they share one set of buckets per
     * client address instead of the connection's.
     */
    public Connection forClientBehindProxy(InetAddress client) {
        return clientsBehindProxies.computeIfAbsent(client, c -> forConnection());
    }

    /**
     * Takes one send from {@code user}'s allowance.
     *
     * @throws ChatException {@code rate_limited}, saying when to retry, if the user sends too fast
     */
    public void userSends(String user) {
        if (sendsPerUser == 0) {
            return;
        }
        take(users.computeIfAbsent(user, u -> bucket(sendsPerUser)),
                "one user may send at most " + sendsPerUser + " messages");
    }

    /** Forgets users and clients behind proxies whose buckets are full again; called now and then by the server. */
    public void forgetFull() {
        users.values().removeIf(b -> refilled(b, sendsPerUser));
        clientsBehindProxies.values().removeIf(Connection::full);
    }

    /** Users with a bucket in memory. */
    int trackedUsers() {
        return users.size();
    }

    /** Clients behind proxies with buckets in memory. */
    int trackedClientsBehindProxies() {
        return clientsBehindProxies.size();
    }

    private static Bucket bucket(int perSecond) {
        if (perSecond == 0) {
            return null;
        }
        return Bucket.builder()
                .addLimit(limit -> limit.capacity(2L * perSecond).refillGreedy(perSecond, Duration.ofSeconds(1)))
                .build();
    }

    /** Whether a bucket of {@link #bucket} holds its whole burst again: the same as a new one. */
    private static boolean refilled(Bucket bucket, int perSecond) {
        return bucket == null || bucket.getAvailableTokens() >= 2L * perSecond;
    }

    private static void take(Bucket bucket, String limit) {
        if (bucket == null) {
            return;
        }
        ConsumptionProbe probe = bucket.tryConsumeAndReturnRemaining(1);
        if (!probe.isConsumed()) {
            long wait = Math.max(1, TimeUnit.NANOSECONDS.toMillis(probe.getNanosToWaitForRefill()) + 1);
            throw new ChatException(ErrorCode.RATE_LIMITED, limit + " a second; retry in " + wait + " ms", wait);
        }
    }

    /** The buckets of one connection; a rate of 0 has no bucket. */
    public static final class Connection {
        private final int sendRate;
        private final int requestRate;
        private final Bucket sends;
        private final Bucket requests;

        private Connection(int sendRate, int requestRate) {
            this.sendRate = sendRate;
            this.requestRate = requestRate;
            this.sends = bucket(sendRate);
            this.requests = bucket(requestRate);
        }

        /** Any request at all (every WebSocket frame counts, a malformed one too). */
        public void request() {
            take(requests, "this connection may make at most " + requestRate + " requests");
        }

        /** One message sent. */
        public void send() {
            take(sends, "this connection may send at most " + sendRate + " messages");
        }

        /** Both buckets refilled: the same as new ones. */
        boolean full() {
            return refilled(sends, sendRate) && refilled(requests, requestRate);
        }
    }
}
