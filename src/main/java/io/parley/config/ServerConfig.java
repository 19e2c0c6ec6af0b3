package io.parley.config;

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
        boolean durableSync) {

    public static final String DEFAULT_HOST = "127.0.0.1";
    public static final int DEFAULT_PORT = 8080;

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
        requirePositive("maxFrameBytes", maxFrameBytes);
        requirePositive("maxMessageLength", maxMessageLength);
        requirePositive("maxRoomsPerConnection", maxRoomsPerConnection);
        requirePositive("outboundBufferBytes", outboundBufferBytes);
        if (historyOnJoin < 0 || historyOnJoin > 1000) {
            throw new IllegalArgumentException("historyOnJoin must be 0-1000, was " + historyOnJoin);
        }
        if (pingInterval.isNegative() || pingInterval.isZero() || idleTimeout.compareTo(pingInterval) <= 0) {
            throw new IllegalArgumentException("idleTimeout must be longer than a positive pingInterval");
        }
    }

    /** The defaults of {@code parley serve}: a first run on a developer's machine. */
    public static ServerConfig defaults() {
        return new ServerConfig(DEFAULT_HOST, DEFAULT_PORT, Path.of("data"), List.of(), null, null,
                64 * 1024, 2000, 50, 100, Duration.ofSeconds(20), Duration.ofSeconds(60),
                4L * 1024 * 1024, false);
    }

    public boolean tls() {
        return tlsCert != null;
    }

    public ServerConfig withPort(int newPort) {
        return new ServerConfig(host, newPort, dataDir, allowedOrigins, tlsCert, tlsKey, maxFrameBytes,
                maxMessageLength, historyOnJoin, maxRoomsPerConnection, pingInterval, idleTimeout,
                outboundBufferBytes, durableSync);
    }

    public ServerConfig withDataDir(Path newDataDir) {
        return new ServerConfig(host, port, newDataDir, allowedOrigins, tlsCert, tlsKey, maxFrameBytes,
                maxMessageLength, historyOnJoin, maxRoomsPerConnection, pingInterval, idleTimeout,
                outboundBufferBytes, durableSync);
    }

    public ServerConfig withAllowedOrigins(List<String> origins) {
        return new ServerConfig(host, port, dataDir, origins, tlsCert, tlsKey, maxFrameBytes,
                maxMessageLength, historyOnJoin, maxRoomsPerConnection, pingInterval, idleTimeout,
                outboundBufferBytes, durableSync);
    }

    public ServerConfig withTls(Path cert, Path key) {
        return new ServerConfig(host, port, dataDir, allowedOrigins, cert, key, maxFrameBytes,
                maxMessageLength, historyOnJoin, maxRoomsPerConnection, pingInterval, idleTimeout,
                outboundBufferBytes, durableSync);
    }

    public ServerConfig withLimits(int newMaxFrameBytes, int newMaxMessageLength, long newOutboundBufferBytes) {
        return new ServerConfig(host, port, dataDir, allowedOrigins, tlsCert, tlsKey, newMaxFrameBytes,
                newMaxMessageLength, historyOnJoin, maxRoomsPerConnection, pingInterval, idleTimeout,
                newOutboundBufferBytes, durableSync);
    }

    public ServerConfig withKeepAlive(Duration newPingInterval, Duration newIdleTimeout) {
        return new ServerConfig(host, port, dataDir, allowedOrigins, tlsCert, tlsKey, maxFrameBytes,
                maxMessageLength, historyOnJoin, maxRoomsPerConnection, newPingInterval, newIdleTimeout,
                outboundBufferBytes, durableSync);
    }

    private static void requirePositive(String name, long value) {
        if (value <= 0) {
            throw new IllegalArgumentException(name + " must be positive, was " + value);
        }
    }
}
