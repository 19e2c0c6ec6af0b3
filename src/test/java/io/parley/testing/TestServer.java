package io.parley.testing;

import io.parley.config.ServerConfig;
import io.parley.transport.ParleyServer;

import java.net.URI;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.UnaryOperator;

/** A real Parley server on 127.0.0.1 and a free port, with its data in a test's temporary directory. */
public final class TestServer implements AutoCloseable {

    /**
     * Production defaults but no rate limits: for tests that push load through on purpose. Rate limits
     * have their own tests, with the defaults on.
     */
    public static final UnaryOperator<ServerConfig> UNTHROTTLED =
            c -> c.withAdmission(c.admission().withoutRateLimits());

    private static final AtomicInteger SERVERS = new AtomicInteger();

    private final ParleyServer server;
    private final ServerLog log;

    private TestServer(ParleyServer server, ServerLog log) {
        this.server = server;
        this.log = log;
    }

    public static TestServer start(Path dataDir) throws Exception {
        return start(dataDir, c -> c);
    }

    public static TestServer start(Path dataDir, UnaryOperator<ServerConfig> customize) throws Exception {
        ServerConfig config = customize.apply(ServerConfig.defaults().withPort(0).withDataDir(dataDir));
        String name = "test-server-" + SERVERS.incrementAndGet();
        ServerLog log = ServerLog.capture(name);
        try {
            return new TestServer(ParleyServer.start(config, name), log);
        } catch (Exception | Error e) {
            log.close();
            throw e;
        }
    }

    public int port() {
        return server.port();
    }

    public URI chatUri() {
        return URI.create("ws://127.0.0.1:" + port() + "/chat");
    }

    public URI httpUri(String path) {
        return URI.create("http://127.0.0.1:" + port() + path);
    }

    /** What this server has logged since it started, and only this server. */
    public ServerLog log() {
        return log;
    }

    public ParleyServer server() {
        return server;
    }

    @Override
    public void close() {
        try {
            server.close();
        } finally {
            log.close();
        }
    }
}
