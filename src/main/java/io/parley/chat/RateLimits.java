package io.parley.chat;

import io.github.bucket4j.Bucket;
import io.github.bucket4j.ConsumptionProbe;
import io.parley.config.ServerConfig;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Token buckets for the request rates of {@link ServerConfig.Admission}: one per connection (made by
 * {@link #forConnection} and kept by its session) and one per user, shared by all of that user's
 * connections and HTTP requests whatever event loop they run on. A rate of r per second allows bursts
 * of 2r: a person pasting a few lines at once is not refused.
 *
 * <p>HTTP requests that a trusted proxy forwards count against buckets per client address instead
 * of the connection's ({@link #forClientBehindProxy}).
 *
 * <p>Guests have one more bucket, per address: all guests from one IP address (an IPv6 /64, which one
 * host usually holds whole) share it, over all their connections and HTTP requests. A guest picks its
 * own name and may open a new connection at any time, so the per-user and per-connection buckets
 * alone do not bound what one machine stores (seen: about 1,200 messages a second from one address).
 *
 * <p>Threads: any. Bucket4j's buckets are lock-free; the maps are concurrent. A user's or a proxied
 * client's buckets are forgotten by {@link #forgetFull()} once they have refilled completely, because a
 * full bucket is the same as a new one: memory holds only those who sent lately.
 */
public final class RateLimits {

    private final int sendsPerConnection;
    private final int sendsPerUser;
    private final int requestsPerConnection;
    private final int guestSendsPerAddress;
    private final ConcurrentHashMap<String, Bucket> users = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<InetAddress, Bucket> guestAddresses = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<InetAddress, Connection> clientsBehindProxies = new ConcurrentHashMap<>();
    private final int signInsPerMinute;
    private final ConcurrentHashMap<InetAddress, Bucket> signIns = new ConcurrentHashMap<>();

    /** The limits of {@code admission}, and no limit on sign-ins. */
    public RateLimits(ServerConfig.Admission admission) {
        this(admission, 0);
    }

    /**
     * @param signInsPerMinute sign-in and sign-up attempts one address (an IPv6 /64) may make per minute,
     *                         in bursts of as many; 0: no limit
     */
    public RateLimits(ServerConfig.Admission admission, int signInsPerMinute) {
        this.signInsPerMinute = signInsPerMinute;
        this.sendsPerConnection = admission.sendsPerSecondPerConnection();
        this.sendsPerUser = admission.sendsPerSecondPerUser();
        this.requestsPerConnection = admission.requestsPerSecondPerConnection();
        this.guestSendsPerAddress = admission.guestSendsPerSecondPerAddress();
    }

    /** The limits of one more connection from {@code client} (null if unknown: no per-address limit). */
    public Connection forConnection(InetAddress client) {
        return new Connection(sendsPerConnection, requestsPerConnection, client);
    }

    /**
     * The limits of a client that a trusted proxy forwards HTTP requests for. Its requests arrive over
     * the proxy's pooled connections, mixed with other clients', so they share one set of buckets per
     * client address instead of the connection's.
     */
    public Connection forClientBehindProxy(InetAddress client) {
        return clientsBehindProxies.computeIfAbsent(client, this::forConnection);
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

    /**
     * Takes one send from the allowance of the guests at {@code client}'s address.
     *
     * @throws ChatException {@code rate_limited}, saying when to retry, if its guests send too fast
     */
    void guestSends(InetAddress client) {
        if (guestSendsPerAddress == 0 || client == null) {
            return;
        }
        take(guestAddresses.computeIfAbsent(addressOf(client), a -> bucket(guestSendsPerAddress)),
                "guests from one address may send at most " + guestSendsPerAddress + " messages");
    }

    /**
     * The address a guest bucket is kept for: an IPv4 address itself, an IPv6 address's /64. A single
     * IPv6 host is usually given a whole /64 and may pick any address in it.
     */
    static InetAddress addressOf(InetAddress client) {
        if (!(client instanceof Inet6Address)) {
            return client;
        }
        byte[] prefix = client.getAddress();
        Arrays.fill(prefix, 8, 16, (byte) 0);
        try {
            return InetAddress.getByAddress(prefix);
        } catch (UnknownHostException e) {
            throw new IllegalStateException("16 bytes are an IPv6 address", e);
        }
    }

    /**
     * Takes one sign-in attempt (a password to check) from {@code client}'s allowance: each costs the
     * server an Argon2id run (19 MiB, tens of milliseconds of a core), and guessing passwords must be slow.
     *
     * @throws ChatException {@code rate_limited}, saying when to retry
     */
    public void signIn(InetAddress client) {
        if (signInsPerMinute == 0 || client == null) {
            return;
        }
        take(signIns.computeIfAbsent(addressOf(client), a -> Bucket.builder()
                        .addLimit(limit -> limit.capacity(signInsPerMinute)
                                .refillGreedy(signInsPerMinute, Duration.ofMinutes(1)))
                        .build()),
                "one address may try to sign in at most " + signInsPerMinute + " times a minute;");
    }

    /** Forgets users, guest addresses and clients behind proxies whose buckets are full again; called now and then by the server. */
    public void forgetFull() {
        signIns.values().removeIf(b -> b.getAvailableTokens() >= signInsPerMinute);
        users.values().removeIf(b -> refilled(b, sendsPerUser));
        guestAddresses.values().removeIf(b -> refilled(b, guestSendsPerAddress));
        clientsBehindProxies.values().removeIf(Connection::full);
    }

    /** Users with a bucket in memory. */
    int trackedUsers() {
        return users.size();
    }

    /** Guest addresses with a bucket in memory. */
    int trackedGuestAddresses() {
        return guestAddresses.size();
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
            throw new ChatException(ErrorCode.RATE_LIMITED, limit + (limit.endsWith(";") ? "" : " a second;")
                    + " retry in " + wait + " ms", wait);
        }
    }

    /** The buckets of one connection, and the address it is from; a rate of 0 has no bucket. */
    public final class Connection {
        private final int sendRate;
        private final int requestRate;
        private final Bucket sends;
        private final Bucket requests;
        private final InetAddress client;

        private Connection(int sendRate, int requestRate, InetAddress client) {
            this.sendRate = sendRate;
            this.requestRate = requestRate;
            this.sends = bucket(sendRate);
            this.requests = bucket(requestRate);
            this.client = client;
        }

        /** Any request at all (every WebSocket frame counts, a malformed one too). */
        public void request() {
            take(requests, "this connection may make at most " + requestRate + " requests");
        }

        /** One message sent. */
        public void send() {
            take(sends, "this connection may send at most " + sendRate + " messages");
        }

        /** One message sent by a guest: counts against its address too. */
        public void guestSend() {
            guestSends(client);
        }

        /** Both buckets refilled: the same as new ones. */
        boolean full() {
            return refilled(sends, sendRate) && refilled(requests, requestRate);
        }
    }
}
