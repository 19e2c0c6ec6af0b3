package io.parley.cli;

import io.parley.config.ServerConfig;
import io.parley.config.Networks;
import io.parley.transport.FatalErrors;
import io.parley.engine.cluster.RedisAddress;
import io.parley.store.PostgresUrl;
import io.parley.transport.ParleyServer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

/**
 * {@code parley serve}: the one place where flags and environment become a {@link ServerConfig}.
 * Each flag's default comes from its {@code PARLEY_*} variable when set.
 */
@Command(name = "serve", mixinStandardHelpOptions = true, showDefaultValues = true,
        description = "Run a Parley server: WebSocket chat at /chat, the HTTP API at /api, the browser client at /, "
                + "health at /healthz, metrics at /metrics.")
final class ServeCommand implements Callable<Integer> {

    /** How long SIGTERM's graceful stop may take (about 6 s at worst when healthy) before the process halts. */
    private static final Duration SHUTDOWN_DEADLINE = Duration.ofSeconds(15);

    @Option(names = "--host", defaultValue = "${env:PARLEY_HOST:-127.0.0.1}",
            description = "Address to bind (env PARLEY_HOST). 0.0.0.0 opens it to the network.")
    String host;

    @Option(names = "--port", defaultValue = "${env:PARLEY_PORT:-8080}",
            description = "TCP port (env PARLEY_PORT). Production: 80, or 443 with TLS.")
    int port;

    @Option(names = "--data-dir", defaultValue = "${env:PARLEY_DATA_DIR:-data}",
            description = "Directory of the SQLite history file parley.db (env PARLEY_DATA_DIR).")
    Path dataDir;

    @Option(names = "--postgres-url", defaultValue = "${env:PARLEY_POSTGRES_URL}", arity = "1",
            description = "Keep history in this PostgreSQL database instead of SQLite: postgresql://user:pass@host:5432/db"
                    + " or a jdbc:postgresql: URL. Prefer the environment variable PARLEY_POSTGRES_URL: a flag shows"
                    + " in the process list.")
    String postgresUrl;

    @Option(names = "--redis-url", defaultValue = "${env:PARLEY_REDIS_URL}", arity = "1",
            description = "Share rooms with other Parley nodes over this Redis: redis://[:password@]host:6379,"
                    + " rediss:// for TLS, or several comma-separated URLs of one Redis Cluster's nodes."
                    + " Needs --postgres-url (the same database on every node) (env PARLEY_REDIS_URL).")
    String redisUrl;

    @Option(names = "--allowed-origin", split = ",", defaultValue = "${env:PARLEY_ALLOWED_ORIGINS:-}",
            description = "Browser origin allowed to connect besides the server's own, e.g. https://chat.example.com;"
                    + " repeatable or comma-separated; * allows any (env PARLEY_ALLOWED_ORIGINS).")
    List<String> allowedOrigins = new ArrayList<>();

    @Option(names = "--public-url", defaultValue = "${env:PARLEY_PUBLIC_URL}",
            description = "The address browsers reach the server at, e.g. https://chat.example.com (env"
                    + " PARLEY_PUBLIC_URL). When set, requests for any other Host are refused with 421 (DNS"
                    + " rebinding) and this is the server's own origin.")
    String publicUrl;

    @Option(names = "--tls-cert", defaultValue = "${env:PARLEY_TLS_CERT}",
            description = "PEM certificate chain: serve wss:// and https:// (env PARLEY_TLS_CERT).")
    Path tlsCert;

    @Option(names = "--tls-key", defaultValue = "${env:PARLEY_TLS_KEY}",
            description = "PEM private key, PKCS#8, for --tls-cert (env PARLEY_TLS_KEY).")
    Path tlsKey;

    @Option(names = "--max-frame-bytes", defaultValue = "${env:PARLEY_MAX_FRAME_BYTES:-65536}",
            description = "Largest WebSocket message accepted, fragments reassembled; larger closes with 1009.")
    int maxFrameBytes;

    @Option(names = "--max-message-length", defaultValue = "${env:PARLEY_MAX_MESSAGE_LENGTH:-2000}",
            description = "Longest chat message, in characters.")
    int maxMessageLength;

    @Option(names = "--history-on-join", defaultValue = "${env:PARLEY_HISTORY_ON_JOIN:-50}",
            description = "Recent messages sent with a join (0-1000).")
    int historyOnJoin;

    @Option(names = "--max-rooms", defaultValue = "${env:PARLEY_MAX_ROOMS:-100}",
            description = "Rooms one connection may be in at once.")
    int maxRooms;

    @Option(names = "--ping-interval", defaultValue = "${env:PARLEY_PING_INTERVAL:-20}",
            description = "Seconds without hearing from a client before the server pings it.")
    int pingSeconds;

    @Option(names = "--idle-timeout", defaultValue = "${env:PARLEY_IDLE_TIMEOUT:-60}",
            description = "Seconds without hearing from a client before closing it with 1001"
                    + " (checked every ping interval).")
    int idleSeconds;

    @Option(names = "--outbound-buffer-bytes", defaultValue = "${env:PARLEY_OUTBOUND_BUFFER_BYTES:-4194304}",
            description = "Unsent bytes one client may have queued before it is closed as a slow consumer (1013).")
    long outboundBufferBytes;

    @Option(names = "--durable-sync", defaultValue = "${env:PARLEY_DURABLE_SYNC:-false}",
            description = "fsync every commit, so acknowledged messages survive power loss, not only a crash.")
    boolean durableSync;

    @Option(names = "--retain-messages", defaultValue = "${env:PARLEY_RETAIN_MESSAGES:-0}",
            description = "Messages kept per room; older ones are deleted. 0 keeps all; otherwise at least 1000.")
    long retainMessages;

    @Option(names = "--presence-names-up-to", defaultValue = "${env:PARLEY_PRESENCE_NAMES_UP_TO:-1000}",
            description = "Largest room whose joins and leaves are named to its members; bigger rooms get"
                    + " their member count at most once a second instead.")
    int presenceNamesUpTo;

    @Option(names = "--presence-grace", defaultValue = "${env:PARLEY_PRESENCE_GRACE:-10}",
            description = "Seconds a closed connection stays in its rooms' presence before it is announced as left,"
                    + " and a long poller after its last poll: a reconnect within it is no news. 0 turns it off"
                    + " (env PARLEY_PRESENCE_GRACE).")
    int presenceGraceSeconds;

    @Option(names = "--sqlite-busy-timeout", defaultValue = "${env:PARLEY_SQLITE_BUSY_TIMEOUT:-5000}",
            description = "Milliseconds a write to parley.db waits for a lock another process holds (a backup, a"
                    + " shell) before the message is refused with store_unavailable (env PARLEY_SQLITE_BUSY_TIMEOUT).")
    long sqliteBusyTimeoutMillis;

    @Option(names = "--guests", negatable = true, defaultValue = "${env:PARLEY_GUESTS:-true}", fallbackValue = "true",
            description = "Let clients without a token chat as guests (env PARLEY_GUESTS). --no-guests requires"
                    + " a token of everyone: from a host site (--token-secret) or a sign-in (accounts).")
    boolean guests;

    @Option(names = "--token-secret", defaultValue = "${env:PARLEY_TOKEN_SECRET}", arity = "1",
            description = "HMAC-SHA256 secret of the tokens to accept, at least 32 bytes. Prefer the environment"
                    + " variable PARLEY_TOKEN_SECRET: a flag shows in the process list. Without it the server makes"
                    + " one at first start and keeps it in its database, for its accounts' tokens.")
    String tokenSecret;

    @Option(names = "--token-leeway", defaultValue = "${env:PARLEY_TOKEN_LEEWAY:-5}",
            description = "Seconds a token is still accepted after its exp, for clock differences between the"
                    + " issuer and this server; a connection ends this long after its token expires unless"
                    + " refreshed. 0 to 600 (env PARLEY_TOKEN_LEEWAY).")
    long tokenLeewaySeconds;

    @Option(names = "--open-signup", defaultValue = "${env:PARLEY_OPEN_SIGNUP:-false}",
            description = "Let anyone register an account on the sign-in page (POST /api/accounts); otherwise only"
                    + " 'parley user add' makes accounts (env PARLEY_OPEN_SIGNUP).")
    boolean openSignup;

    @Option(names = "--session-token-ttl", defaultValue = "${env:PARLEY_SESSION_TOKEN_TTL:-15m}",
            converter = Lifetimes.class,
            description = "How long a token minted for a signed-in browser lasts (it asks for a new one before"
                    + " then): 30s to 1d, e.g. 900s, 15m, 1h (env PARLEY_SESSION_TOKEN_TTL).")
    Duration sessionTokenTtl;

    @Option(names = "--session-lifetime", defaultValue = "${env:PARLEY_SESSION_LIFETIME:-30d}",
            converter = Lifetimes.class,
            description = "How long a sign-in lasts before the password is asked again, e.g. 12h, 30d"
                    + " (env PARLEY_SESSION_LIFETIME).")
    Duration sessionLifetime;

    @Option(names = "--sign-ins-per-minute", defaultValue = "${env:PARLEY_SIGN_INS_PER_MINUTE:-10}",
            description = "Sign-in and sign-up attempts one IP address (an IPv6 /64) may make per minute, bursts"
                    + " of as many; more are refused rate_limited; 0: no limit (env PARLEY_SIGN_INS_PER_MINUTE).")
    int signInsPerMinute;

    @Option(names = "--websocket", negatable = true, defaultValue = "${env:PARLEY_WEBSOCKET:-true}",
            fallbackValue = "true",
            description = "Accept WebSocket upgrades (env PARLEY_WEBSOCKET). --no-websocket answers them 503, as a"
                    + " blocking proxy would; clients then use the HTTP API.")
    boolean webSocket;

    @Option(names = "--compression", negatable = true, defaultValue = "${env:PARLEY_COMPRESSION:-true}",
            fallbackValue = "true",
            description = "Accept a WebSocket client's offer of permessage-deflate (env PARLEY_COMPRESSION); browsers"
                    + " offer it. --no-compression sends every frame uncompressed.")
    boolean compression;

    /** What a join to a room nobody created does. */
    enum RoomsOnJoin { create, refuse }

    @Option(names = "--rooms-on-join", defaultValue = "${env:PARLEY_ROOMS_ON_JOIN:-create}",
            description = "What a join to a room nobody created does: 'create' makes it a public room, and lets"
                    + " signed-in users create rooms; 'refuse' answers not_found, and only admins create rooms"
                    + " (env PARLEY_ROOMS_ON_JOIN).")
    RoomsOnJoin roomsOnJoin;

    @Option(names = "--max-connections", defaultValue = "${env:PARLEY_MAX_CONNECTIONS:-20000}",
            description = "Open connections in total; more are answered 503 and closed as they are accepted."
                    + " Lowered at start, with a warning, to what the open file limit (ulimit -n) leaves.")
    int maxConnections;

    @Option(names = "--max-connections-per-ip", defaultValue = "${env:PARLEY_MAX_CONNECTIONS_PER_IP:-256}",
            description = "Open connections from one IP address; more are answered 429 and closed as they are"
                    + " accepted. Once only the last tenth of --max-connections is free, an address holding 4"
                    + " or more is refused too.")
    int maxConnectionsPerIp;

    @Option(names = "--trusted-proxy", split = ",", defaultValue = "${env:PARLEY_TRUSTED_PROXIES:-}",
            description = "Reverse proxy (IP address or CIDR block) whose X-Forwarded-For names the client, so that"
                    + " the per-IP limit counts clients, not the proxy, and whose X-Forwarded-Host and"
                    + " X-Forwarded-Proto (or Forwarded) name the address the browser used, for the origin and"
                    + " --public-url checks; repeatable or comma-separated (env PARLEY_TRUSTED_PROXIES).")
    List<String> trustedProxies = new ArrayList<>();

    @Option(names = "--metrics-from", split = ",", defaultValue = "${env:PARLEY_METRICS_FROM:-" + Networks.LOOPBACK_ENTRIES + "}",
            description = "Networks (IP addresses or CIDR blocks) that may read /metrics; others get 403."
                    + " Default: this machine. 0.0.0.0/0,::/0 for anyone (env PARLEY_METRICS_FROM).")
    List<String> metricsFrom = new ArrayList<>();

    @Option(names = "--handshake-timeout", defaultValue = "${env:PARLEY_HANDSHAKE_TIMEOUT:-10}",
            description = "Seconds a client has to send a whole HTTP request or WebSocket handshake (slow loris).")
    int handshakeSeconds;

    @Option(names = "--sends-per-second", defaultValue = "${env:PARLEY_SENDS_PER_SECOND:-10}",
            description = "Messages one connection may send per second, bursts of twice that; 0: no limit.")
    int sendsPerSecond;

    @Option(names = "--user-sends-per-second", defaultValue = "${env:PARLEY_USER_SENDS_PER_SECOND:-20}",
            description = "Messages one user (all connections and HTTP requests) may send per second; 0: no limit.")
    int userSendsPerSecond;

    @Option(names = "--requests-per-second", defaultValue = "${env:PARLEY_REQUESTS_PER_SECOND:-50}",
            description = "Frames or HTTP requests of any kind one connection may send per second; 0: no limit.")
    int requestsPerSecond;

    @Option(names = "--guest-sends-per-ip", defaultValue = "${env:PARLEY_GUEST_SENDS_PER_IP:-50}",
            description = "Messages all guests from one IP address (an IPv6 /64; behind a trusted proxy, the"
                    + " forwarded client's) may send per second together, bursts of twice that; 0: no limit.")
    int guestSendsPerIp;

    @Option(names = "--no-rate-limits", defaultValue = "false",
            description = "Turn every rate limit off, whatever the options above say (sign-ins per minute too): for"
                    + " benchmarks.")
    boolean noRateLimits;

    ServerConfig config() {
        List<String> origins = allowedOrigins.stream().map(String::trim).filter(s -> !s.isEmpty()).toList();
        String secret = tokenSecret == null || tokenSecret.isBlank() ? null : tokenSecret;
        ServerConfig.Admission admission = new ServerConfig.Admission(maxConnections, maxConnectionsPerIp,
                Duration.ofSeconds(handshakeSeconds), sendsPerSecond, userSendsPerSecond, requestsPerSecond,
                guestSendsPerIp, Networks.parse("trusted proxy", trustedProxies));
        return new ServerConfig(host, port, dataDir, origins, tlsCert, tlsKey, maxFrameBytes, maxMessageLength,
                historyOnJoin, maxRooms, Duration.ofSeconds(pingSeconds), Duration.ofSeconds(idleSeconds),
                outboundBufferBytes, durableSync, retainMessages, new ServerConfig.Access(guests, secret, webSocket,
                        Networks.parse("metrics network", metricsFrom), publicUrl(), compression,
                        Duration.ofSeconds(tokenLeewaySeconds), new ServerConfig.Accounts(openSignup, sessionTokenTtl,
                        sessionLifetime, noRateLimits ? 0 : signInsPerMinute), roomsOnJoin == RoomsOnJoin.create),
                noRateLimits ? admission.withoutRateLimits() : admission,
                postgresUrl == null || postgresUrl.isBlank() ? null : PostgresUrl.parse(postgresUrl),
                redisUrl == null || redisUrl.isBlank() ? null : RedisAddress.parse(redisUrl),
                presenceNamesUpTo, Duration.ofMillis(sqliteBusyTimeoutMillis), Duration.ofSeconds(presenceGraceSeconds));
    }

    private URI publicUrl() {
        if (publicUrl == null || publicUrl.isBlank()) {
            return null;
        }
        try {
            return new URI(publicUrl.trim());
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("--public-url is not a URL: " + e.getMessage());
        }
    }

    @Override
    public Integer call() throws Exception {
        ServerConfig config;
        try {
            config = config();
        } catch (IllegalArgumentException e) {
            System.err.println("parley serve: " + e.getMessage());
            return 2;
        }
        // A fatal error (out of memory, an essential thread dead) ends the process with
        // FatalErrors.EXIT_CODE, for a supervisor to restart it, instead of leaving a server that only
        // looks alive.
        FatalErrors fatal = FatalErrors.halting();
        ParleyServer server;
        try {
            server = ParleyServer.start(config, fatal);
        } catch (Exception e) {
            System.err.println("parley serve: cannot start on " + config.host() + ":" + config.port() + ": "
                    + describe(e));
            return 1;
        }
        // Only once running: a server that failed to start has nothing to restart, and the JVM may be
        // someone else's (a test that runs this command).
        fatal.installAsDefault();
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            fatal.deadline(SHUTDOWN_DEADLINE, "the graceful stop");
            server.close();
            stopped.countDown();
        }, "parley-shutdown"));
        stopped.await();
        return 0;
    }

    /** The cause a person can act on: "Address already in use", a missing certificate file, ... */
    private static String describe(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String message = root.getMessage() == null ? root.getClass().getSimpleName() : root.getMessage();
        return root == e ? message : e.getMessage() + " (" + message + ")";
    }
}
