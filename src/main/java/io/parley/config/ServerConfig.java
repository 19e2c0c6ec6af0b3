package io.parley.config;

import io.parley.engine.cluster.RedisAddress;
import io.parley.store.PostgresUrl;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * Everything a Parley server is told at start-up, in one immutable value.
 *
 * <p>Built in exactly one place for a running server: {@code ServeCommand} turns flags and
 * {@code PARLEY_*} environment variables into one of these. Tests build it from {@link #defaults()}
 * and the {@code with*} methods. Nothing reads configuration from anywhere else.
 *
 * @param host                 address to bind; 127.0.0.1 unless the operator opens it up
 * @param port                 TCP port; 0 picks a free one (tests)
 * @param dataDir              where the SQLite history file lives
 * @param allowedOrigins       browser origins allowed besides the server's own; "*" allows any
 * @param tlsCert              PEM certificate chain, or null for plain ws://
 * @param tlsKey               PEM private key (PKCS#8), or null
 * @param maxFrameBytes        largest WebSocket message accepted, after reassembling fragments
 * @param maxMessageLength     largest chat message text, in characters
 * @param historyOnJoin        messages a plain {@code join} carries
 * @param maxRoomsPerConnection rooms one connection may be in at once
 * @param pingInterval         ping a client after this long without hearing from it
 * @param idleTimeout          close a connection after this long without hearing from it (checked
 *                             every ping interval, so rounded up to a multiple of it)
 * @param outboundBufferBytes  bytes queued to one slow connection before it is closed with 1013
 * @param durableSync          true: fsync every commit (survives power loss); false: survives a
 *                             process crash, as SQLite's WAL with synchronous=NORMAL does
 * @param retainMessages       messages kept per room; 0 keeps all. Older ones are deleted, and a
 *                             client re-joining from before them is told {@code recovered: false}
 * @param access               who may connect, and over which transports
 * @param admission            limits on connections and request rates
 * @param postgres             where history is kept instead of SQLite in {@code dataDir}, or null for
 *                             SQLite; its toString never shows the password
 * @param redis                the Redis (or Redis Cluster) this node shares rooms over with other nodes,
 *                             or null for a single node; needs {@code postgres}
 * @param presenceNamesUpTo    the largest room whose joins and leaves are named to its members; a
 *                             bigger room is sent its member count at most once a second instead
 * @param sqliteBusyTimeout    how long a write to the SQLite file waits for a lock another process
 *                             holds (a backup, an operator's shell) before the message is refused
 *                             with {@code store_unavailable}
 * @param presenceGrace        how long a closed connection's member entries linger before their
 *                             {@code left}, and a long poller's after its last poll; a reconnect of the
 *                             same user within it is no news to the room. Zero turns leases off
 */
public record ServerConfig(
        String host,
        int port,
        Path dataDir,
        List<String> allowedOrigins,
        Path tlsCert,
        Path tlsKey,
        int maxFrameBytes,
        int maxMessageLength,
        int historyOnJoin,
        int maxRoomsPerConnection,
        Duration pingInterval,
        Duration idleTimeout,
        long outboundBufferBytes,
        boolean durableSync,
        long retainMessages,
        Access access,
        Admission admission,
        PostgresUrl postgres,
        RedisAddress redis,
        int presenceNamesUpTo,
        Duration sqliteBusyTimeout,
        Duration presenceGrace) {

    public static final String DEFAULT_HOST = "127.0.0.1";
    public static final int DEFAULT_PORT = 8080;
    /** Fewest messages per room that retention may keep: more than a room holds in memory. */
    public static final long MIN_RETAIN = 1000;
    /** See {@code LocalBroker.DEFAULT_PRESENCE_NAMES_UP_TO}: near where Twitch stops naming joins. */
    public static final int DEFAULT_PRESENCE_NAMES_UP_TO = 1000;
    /** Long enough for a checkpoint or a backup's read to finish; short enough that a sender hears back. */
    public static final Duration DEFAULT_SQLITE_BUSY_TIMEOUT = Duration.ofSeconds(5);
    /**
     * Longer than a page reload or a network switch takes a browser (1-3 s), short enough that someone
     * who really left is seen to leave soon after.
     */
    public static final Duration DEFAULT_PRESENCE_GRACE = Duration.ofSeconds(10);

    public ServerConfig {
        Objects.requireNonNull(host, "host");
        Objects.requireNonNull(dataDir, "dataDir");
        allowedOrigins = List.copyOf(allowedOrigins);
        Objects.requireNonNull(pingInterval, "pingInterval");
        Objects.requireNonNull(idleTimeout, "idleTimeout");
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port must be 0-65535, was " + port);
        }
        if ((tlsCert == null) != (tlsKey == null)) {
            throw new IllegalArgumentException("TLS needs both a certificate and a key");
        }
        if (presenceNamesUpTo < 0) {
            throw new IllegalArgumentException("presenceNamesUpTo must not be negative, was " + presenceNamesUpTo);
        }
        requirePositive("maxFrameBytes", maxFrameBytes);
        requirePositive("maxMessageLength", maxMessageLength);
        requirePositive("maxRoomsPerConnection", maxRoomsPerConnection);
        requirePositive("outboundBufferBytes", outboundBufferBytes);
        if (historyOnJoin < 0 || historyOnJoin > 1000) {
            throw new IllegalArgumentException("historyOnJoin must be 0-1000, was " + historyOnJoin);
        }
        Objects.requireNonNull(access, "access");
        Objects.requireNonNull(admission, "admission");
        Objects.requireNonNull(sqliteBusyTimeout, "sqliteBusyTimeout");
        Objects.requireNonNull(presenceGrace, "presenceGrace");
        if (presenceGrace.isNegative()) {
            throw new IllegalArgumentException("presenceGrace must not be negative, was " + presenceGrace);
        }
        if (sqliteBusyTimeout.isNegative() || sqliteBusyTimeout.toMillis() > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("sqliteBusyTimeout must be 0 to " + Integer.MAX_VALUE
                    + " ms, was " + sqliteBusyTimeout);
        }
        if (retainMessages != 0 && retainMessages < MIN_RETAIN) {
            throw new IllegalArgumentException("retainMessages must be 0 (keep all) or at least " + MIN_RETAIN
                    + ", was " + retainMessages);
        }
        if (pingInterval.isNegative() || pingInterval.isZero() || idleTimeout.compareTo(pingInterval) <= 0) {
            throw new IllegalArgumentException("idleTimeout must be longer than a positive pingInterval");
        }
        if (redis != null && postgres == null) {
            throw new IllegalArgumentException("sharing rooms over Redis needs their history in PostgreSQL:"
                    + " give --postgres-url too (the same database on every node)");
        }
    }

    /** The defaults of {@code parley serve}: a first run on a developer's machine. */
    public static ServerConfig defaults() {
        return new ServerConfig(DEFAULT_HOST, DEFAULT_PORT, Path.of("data"), List.of(), null, null,
                64 * 1024, 2000, 50, 100, Duration.ofSeconds(20), Duration.ofSeconds(60),
                4L * 1024 * 1024, false, 0, Access.defaults(), Admission.defaults(), null, null,
                DEFAULT_PRESENCE_NAMES_UP_TO, DEFAULT_SQLITE_BUSY_TIMEOUT, DEFAULT_PRESENCE_GRACE);
    }

    public boolean tls() {
        return tlsCert != null;
    }

    public ServerConfig withPort(int newPort) {
        return new ServerConfig(host, newPort, dataDir, allowedOrigins, tlsCert, tlsKey, maxFrameBytes,
                maxMessageLength, historyOnJoin, maxRoomsPerConnection, pingInterval, idleTimeout,
                outboundBufferBytes, durableSync, retainMessages, access, admission, postgres, redis,
                presenceNamesUpTo, sqliteBusyTimeout, presenceGrace);
    }

    public ServerConfig withDataDir(Path newDataDir) {
        return new ServerConfig(host, port, newDataDir, allowedOrigins, tlsCert, tlsKey, maxFrameBytes,
                maxMessageLength, historyOnJoin, maxRoomsPerConnection, pingInterval, idleTimeout,
                outboundBufferBytes, durableSync, retainMessages, access, admission, postgres, redis,
                presenceNamesUpTo, sqliteBusyTimeout, presenceGrace);
    }

    public ServerConfig withAllowedOrigins(List<String> origins) {
        return new ServerConfig(host, port, dataDir, origins, tlsCert, tlsKey, maxFrameBytes,
                maxMessageLength, historyOnJoin, maxRoomsPerConnection, pingInterval, idleTimeout,
                outboundBufferBytes, durableSync, retainMessages, access, admission, postgres, redis,
                presenceNamesUpTo, sqliteBusyTimeout, presenceGrace);
    }

    public ServerConfig withTls(Path cert, Path key) {
        return new ServerConfig(host, port, dataDir, allowedOrigins, cert, key, maxFrameBytes,
                maxMessageLength, historyOnJoin, maxRoomsPerConnection, pingInterval, idleTimeout,
                outboundBufferBytes, durableSync, retainMessages, access, admission, postgres, redis,
                presenceNamesUpTo, sqliteBusyTimeout, presenceGrace);
    }

    public ServerConfig withLimits(int newMaxFrameBytes, int newMaxMessageLength, long newOutboundBufferBytes) {
        return new ServerConfig(host, port, dataDir, allowedOrigins, tlsCert, tlsKey, newMaxFrameBytes,
                newMaxMessageLength, historyOnJoin, maxRoomsPerConnection, pingInterval, idleTimeout,
                newOutboundBufferBytes, durableSync, retainMessages, access, admission, postgres, redis,
                presenceNamesUpTo, sqliteBusyTimeout, presenceGrace);
    }

    public ServerConfig withKeepAlive(Duration newPingInterval, Duration newIdleTimeout) {
        return new ServerConfig(host, port, dataDir, allowedOrigins, tlsCert, tlsKey, maxFrameBytes,
                maxMessageLength, historyOnJoin, maxRoomsPerConnection, newPingInterval, newIdleTimeout,
                outboundBufferBytes, durableSync, retainMessages, access, admission, postgres, redis,
                presenceNamesUpTo, sqliteBusyTimeout, presenceGrace);
    }

    public ServerConfig withRetention(long newRetainMessages) {
        return new ServerConfig(host, port, dataDir, allowedOrigins, tlsCert, tlsKey, maxFrameBytes,
                maxMessageLength, historyOnJoin, maxRoomsPerConnection, pingInterval, idleTimeout,
                outboundBufferBytes, durableSync, newRetainMessages, access, admission, postgres, redis,
                presenceNamesUpTo, sqliteBusyTimeout, presenceGrace);
    }

    public ServerConfig withAccess(Access newAccess) {
        return new ServerConfig(host, port, dataDir, allowedOrigins, tlsCert, tlsKey, maxFrameBytes,
                maxMessageLength, historyOnJoin, maxRoomsPerConnection, pingInterval, idleTimeout,
                outboundBufferBytes, durableSync, retainMessages, newAccess, admission, postgres, redis,
                presenceNamesUpTo, sqliteBusyTimeout, presenceGrace);
    }

    public ServerConfig withAdmission(Admission newAdmission) {
        return new ServerConfig(host, port, dataDir, allowedOrigins, tlsCert, tlsKey, maxFrameBytes,
                maxMessageLength, historyOnJoin, maxRoomsPerConnection, pingInterval, idleTimeout,
                outboundBufferBytes, durableSync, retainMessages, access, newAdmission, postgres, redis, presenceNamesUpTo,
                sqliteBusyTimeout, presenceGrace);
    }

    /** Rooms above {@code n} members hear counts instead of names of who joined and left. */
    public ServerConfig withPresenceNamesUpTo(int n) {
        return new ServerConfig(host, port, dataDir, allowedOrigins, tlsCert, tlsKey, maxFrameBytes,
                maxMessageLength, historyOnJoin, maxRoomsPerConnection, pingInterval, idleTimeout,
                outboundBufferBytes, durableSync, retainMessages, access, admission, postgres, redis, n, sqliteBusyTimeout, presenceGrace);
    }

    /** Rooms shared with other nodes over this Redis; null: a single node. */
    public ServerConfig withRedis(RedisAddress newRedis) {
        return new ServerConfig(host, port, dataDir, allowedOrigins, tlsCert, tlsKey, maxFrameBytes,
                maxMessageLength, historyOnJoin, maxRoomsPerConnection, pingInterval, idleTimeout,
                outboundBufferBytes, durableSync, retainMessages, access, admission, postgres, newRedis,
                presenceNamesUpTo, sqliteBusyTimeout, presenceGrace);
    }

    /** History in this PostgreSQL database instead of SQLite; null goes back to SQLite. */
    public ServerConfig withPostgres(PostgresUrl newPostgres) {
        return new ServerConfig(host, port, dataDir, allowedOrigins, tlsCert, tlsKey, maxFrameBytes,
                maxMessageLength, historyOnJoin, maxRoomsPerConnection, pingInterval, idleTimeout,
                outboundBufferBytes, durableSync, retainMessages, access, admission, newPostgres, redis,
                presenceNamesUpTo, sqliteBusyTimeout, presenceGrace);
    }

    /** How long a closed connection's (or a long poller's) member entries linger; zero for not at all. */
    public ServerConfig withPresenceGrace(Duration grace) {
        return new ServerConfig(host, port, dataDir, allowedOrigins, tlsCert, tlsKey, maxFrameBytes,
                maxMessageLength, historyOnJoin, maxRoomsPerConnection, pingInterval, idleTimeout,
                outboundBufferBytes, durableSync, retainMessages, access, admission, postgres, redis,
                presenceNamesUpTo, sqliteBusyTimeout, grace);
    }

    public ServerConfig withSqliteBusyTimeout(Duration timeout) {
        return new ServerConfig(host, port, dataDir, allowedOrigins, tlsCert, tlsKey, maxFrameBytes,
                maxMessageLength, historyOnJoin, maxRoomsPerConnection, pingInterval, idleTimeout,
                outboundBufferBytes, durableSync, retainMessages, access, admission, postgres, redis,
                presenceNamesUpTo, timeout, presenceGrace);
    }

    /**
     * Who may connect.
     *
     * @param allowGuests  true: a client without a token may chat as a guest ({@code guest:<name>})
     * @param tokenSecret  the HMAC-SHA256 secret tokens are signed with, or null: then the server makes
     *                     one at first start and keeps it in its database, for its accounts' tokens
     * @param webSocket    false: refuse WebSocket upgrades (503), as a proxy that blocks them would;
     *                     clients fall back to the HTTP API
     * @param metricsFrom  the networks {@code /metrics} is served to (behind a trusted proxy, judged by
     *                     the client's address); this machine only by default
     * @param publicUrl    the address browsers reach the server at ({@code https://chat.example.com}),
     *                     or null. When set, a request naming another {@code Host} is refused (DNS
     *                     rebinding), and the server's own origin is this URL's rather than the Host's
     * @param compression  true: accept a WebSocket client's offer of permessage-deflate (RFC 7692);
     *                     false: answer every upgrade without it
     * @param tokenLeeway  how long after its {@code exp} a token is still accepted, for the clocks of the
     *                     issuer and the server that differ; a connection ends this long after its
     *                     token's expiry unless refreshed. Whole seconds, as a token's times are
     * @param accounts     Parley's own accounts: sign-up, sessions and the tokens they get
     * @param createRoomsOnJoin true ({@code --rooms-on-join create}): a join to a room nobody created makes a
     *                     public room, and signed-in users may create rooms; false ({@code refuse}): such a
     *                     room is {@code not_found}, and only server admins create rooms
     */
    public record Access(boolean allowGuests, String tokenSecret, boolean webSocket, Networks metricsFrom,
                         URI publicUrl, boolean compression, Duration tokenLeeway, Accounts accounts,
                         boolean createRoomsOnJoin) {

        /** Clocks of the issuer and the server may differ a little; machines that sync time, by less. */
        public static final Duration DEFAULT_TOKEN_LEEWAY = Duration.ofSeconds(5);
        /** More would keep a revoked user's connections open for long; a clock that far off needs fixing. */
        public static final Duration MAX_TOKEN_LEEWAY = Duration.ofMinutes(10);

        /** HS256 keys shorter than the hash are weak (RFC 7518, section 3.2). */
        public static final int MIN_SECRET_BYTES = 32;

        public Access {
            if (tokenSecret != null && tokenSecret.getBytes(StandardCharsets.UTF_8).length
                    < MIN_SECRET_BYTES) {
                throw new IllegalArgumentException("the token secret must be at least " + MIN_SECRET_BYTES
                        + " bytes");
            }
            Objects.requireNonNull(metricsFrom, "metricsFrom");
            Objects.requireNonNull(accounts, "accounts");
            if (publicUrl != null && (publicUrl.getHost() == null || publicUrl.getScheme() == null
                    || !publicUrl.getScheme().equalsIgnoreCase("http") && !publicUrl.getScheme().equalsIgnoreCase("https")
                    || publicUrl.getRawUserInfo() != null)) {
                throw new IllegalArgumentException("the public URL must be http(s)://host[:port], was " + publicUrl);
            }
            Objects.requireNonNull(tokenLeeway, "tokenLeeway");
            if (tokenLeeway.isNegative() || tokenLeeway.compareTo(MAX_TOKEN_LEEWAY) > 0 || tokenLeeway.toNanos() % 1_000_000_000 != 0) {
                throw new IllegalArgumentException("the token leeway must be whole seconds, 0 to "
                        + MAX_TOKEN_LEEWAY.toSeconds() + ", was " + tokenLeeway);
            }
        }

        public static Access defaults() {
            return new Access(true, null, true, Networks.LOOPBACK, null, true, DEFAULT_TOKEN_LEEWAY, Accounts.defaults(),
                    true);
        }

        public Access withTokenSecret(String secret) {
            return new Access(allowGuests, secret, webSocket, metricsFrom, publicUrl, compression, tokenLeeway, accounts, createRoomsOnJoin);
        }

        public Access withGuests(boolean allowed) {
            return new Access(allowed, tokenSecret, webSocket, metricsFrom, publicUrl, compression, tokenLeeway, accounts, createRoomsOnJoin);
        }

        public Access withWebSocket(boolean enabled) {
            return new Access(allowGuests, tokenSecret, enabled, metricsFrom, publicUrl, compression, tokenLeeway, accounts, createRoomsOnJoin);
        }

        public Access withMetricsFrom(Networks networks) {
            return new Access(allowGuests, tokenSecret, webSocket, networks, publicUrl, compression, tokenLeeway, accounts, createRoomsOnJoin);
        }

        public Access withPublicUrl(URI url) {
            return new Access(allowGuests, tokenSecret, webSocket, metricsFrom, url, compression, tokenLeeway, accounts, createRoomsOnJoin);
        }

        public Access withTokenLeeway(Duration leeway) {
            return new Access(allowGuests, tokenSecret, webSocket, metricsFrom, publicUrl, compression, leeway, accounts, createRoomsOnJoin);
        }

        public Access withCompression(boolean enabled) {
            return new Access(allowGuests, tokenSecret, webSocket, metricsFrom, publicUrl, enabled, tokenLeeway, accounts, createRoomsOnJoin);
        }

        public Access withAccounts(Accounts newAccounts) {
            return new Access(allowGuests, tokenSecret, webSocket, metricsFrom, publicUrl, compression, tokenLeeway,
                    newAccounts, createRoomsOnJoin);
        }

        public Access withRoomsOnJoin(boolean create) {
            return new Access(allowGuests, tokenSecret, webSocket, metricsFrom, publicUrl, compression, tokenLeeway,
                    accounts, create);
        }

        @Override
        public String toString() {
            // Never print the secret.
            return "Access[allowGuests=" + allowGuests + ", tokens=" + (tokenSecret != null)
                    + ", webSocket=" + webSocket + ", metricsFrom=" + metricsFrom + ", publicUrl=" + publicUrl
                    + ", compression=" + compression + ", tokenLeeway=" + tokenLeeway + ", accounts=" + accounts + ", createRoomsOnJoin=" + createRoomsOnJoin + "]";
        }
    }

    /**
     * Parley's own accounts (docs/OPERATIONS.md, "Accounts").
     *
     * @param openSignup             true: anyone may register an account at {@code POST /api/accounts};
     *                               false: only {@code parley user add} makes them
     * @param tokenTtl               how long a token minted for a signed-in browser is valid; it asks for
     *                               a new one before then
     * @param sessionLifetime        how long a sign-in lasts (the session cookie)
     * @param signInsPerMinutePerAddress sign-in and sign-up attempts one IP address (an IPv6 /64) may make
     *                               per minute, bursts of as many; 0: no limit
     */
    public record Accounts(boolean openSignup, Duration tokenTtl, Duration sessionLifetime,
                           int signInsPerMinutePerAddress) {

        public static final Duration DEFAULT_TOKEN_TTL = Duration.ofMinutes(15);
        public static final Duration DEFAULT_SESSION_LIFETIME = Duration.ofDays(30);
        /** Enough for a person who mistypes a few times; an online guesser gets 14,400 a day per address. */
        public static final int DEFAULT_SIGN_INS_PER_MINUTE = 10;

        public Accounts {
            Objects.requireNonNull(tokenTtl, "tokenTtl");
            Objects.requireNonNull(sessionLifetime, "sessionLifetime");
            if (tokenTtl.compareTo(Duration.ofSeconds(30)) < 0 || tokenTtl.compareTo(Duration.ofDays(1)) > 0) {
                throw new IllegalArgumentException("the session token lifetime must be 30 s to 1 day, was " + tokenTtl);
            }
            if (sessionLifetime.compareTo(tokenTtl) < 0 || sessionLifetime.compareTo(Duration.ofDays(3650)) > 0) {
                throw new IllegalArgumentException("the session lifetime must be at least the token's and at most"
                        + " 10 years, was " + sessionLifetime);
            }
            if (signInsPerMinutePerAddress < 0) {
                throw new IllegalArgumentException("sign-ins per minute must be 0 (off) or positive");
            }
        }

        public static Accounts defaults() {
            return new Accounts(false, DEFAULT_TOKEN_TTL, DEFAULT_SESSION_LIFETIME, DEFAULT_SIGN_INS_PER_MINUTE);
        }

        public Accounts withOpenSignup(boolean open) {
            return new Accounts(open, tokenTtl, sessionLifetime, signInsPerMinutePerAddress);
        }

        public Accounts withSignInsPerMinute(int perMinute) {
            return new Accounts(openSignup, tokenTtl, sessionLifetime, perMinute);
        }

        public Accounts withLifetimes(Duration newTokenTtl, Duration newSessionLifetime) {
            return new Accounts(openSignup, newTokenTtl, newSessionLifetime, signInsPerMinutePerAddress);
        }
    }

    /**
     * Limits on who gets in and how fast they may go. A rate of 0 turns that limit off; a rate of r
     * allows bursts of 2r.
     *
     * @param maxConnections               open TCP connections in total (WebSocket and HTTP); the
     *                                     server accepts fewer if the open file limit does not fit them
     * @param maxConnectionsPerIp          open TCP connections from one IP address (fewer once the
     *                                     server is nearly full); for a client behind a trusted proxy,
     *                                     its WebSocket connections
     * @param handshakeTimeout             time allowed to deliver a whole HTTP request (the
     *                                     WebSocket handshake included), so a client trickling bytes
     *                                     cannot hold a slot
     * @param sendsPerSecondPerConnection  messages one connection may send per second
     * @param sendsPerSecondPerUser        messages one user (all their connections and HTTP requests)
     *                                     may send per second
     * @param requestsPerSecondPerConnection WebSocket frames of any kind one connection may send per second
     * @param guestSendsPerSecondPerAddress messages all guests from one IP address (an IPv6 /64) may send
     *                                     per second together, over every connection and HTTP request;
     *                                     behind a trusted proxy, the forwarded client's address
     * @param trustedProxies               proxies whose {@code X-Forwarded-For} names the client, and whose
     *                                     {@code X-Forwarded-Host}/{@code -Proto} or {@code Forwarded}
     *                                     name the address the browser used
     */
    public record Admission(int maxConnections, int maxConnectionsPerIp, Duration handshakeTimeout,
                            int sendsPerSecondPerConnection, int sendsPerSecondPerUser,
                            int requestsPerSecondPerConnection, int guestSendsPerSecondPerAddress,
                            Networks trustedProxies) {

        public Admission {
            requirePositive("maxConnections", maxConnections);
            requirePositive("maxConnectionsPerIp", maxConnectionsPerIp);
            Objects.requireNonNull(handshakeTimeout, "handshakeTimeout");
            Objects.requireNonNull(trustedProxies, "trustedProxies");
            if (handshakeTimeout.isNegative() || handshakeTimeout.isZero()) {
                throw new IllegalArgumentException("handshakeTimeout must be positive");
            }
            if (sendsPerSecondPerConnection < 0 || sendsPerSecondPerUser < 0 || requestsPerSecondPerConnection < 0
                    || guestSendsPerSecondPerAddress < 0) {
                throw new IllegalArgumentException("rates must be 0 (off) or positive");
            }
        }

        public static Admission defaults() {
            return new Admission(20_000, 256, Duration.ofSeconds(10), 10, 20, 50, 50, Networks.none());
        }

        /** The same connection limits with every rate limit off: for benchmarks and load tests. */
        public Admission withoutRateLimits() {
            return withRates(0, 0, 0).withGuestSendsPerAddress(0);
        }

        public Admission withGuestSendsPerAddress(int perSecond) {
            return new Admission(maxConnections, maxConnectionsPerIp, handshakeTimeout, sendsPerSecondPerConnection,
                    sendsPerSecondPerUser, requestsPerSecondPerConnection, perSecond, trustedProxies);
        }

        public Admission withConnections(int total, int perIp) {
            return new Admission(total, perIp, handshakeTimeout, sendsPerSecondPerConnection,
                    sendsPerSecondPerUser, requestsPerSecondPerConnection, guestSendsPerSecondPerAddress, trustedProxies);
        }

        public Admission withHandshakeTimeout(Duration timeout) {
            return new Admission(maxConnections, maxConnectionsPerIp, timeout, sendsPerSecondPerConnection,
                    sendsPerSecondPerUser, requestsPerSecondPerConnection, guestSendsPerSecondPerAddress, trustedProxies);
        }

        public Admission withRates(int sendsPerConnection, int sendsPerUser, int requestsPerConnection) {
            return new Admission(maxConnections, maxConnectionsPerIp, handshakeTimeout, sendsPerConnection,
                    sendsPerUser, requestsPerConnection, guestSendsPerSecondPerAddress, trustedProxies);
        }

        public Admission withTrustedProxies(Networks proxies) {
            return new Admission(maxConnections, maxConnectionsPerIp, handshakeTimeout, sendsPerSecondPerConnection,
                    sendsPerSecondPerUser, requestsPerSecondPerConnection, guestSendsPerSecondPerAddress, proxies);
        }
    }

    private static void requirePositive(String name, long value) {
        if (value <= 0) {
            throw new IllegalArgumentException(name + " must be positive, was " + value);
        }
    }
}
