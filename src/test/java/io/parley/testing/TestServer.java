package io.parley.testing;

import io.parley.config.ServerConfig;
import io.parley.transport.ParleyServer;

import java.net.URI;
import java.nio.file.Path;
import java.util.function.UnaryOperator;

/** A real Parley server on 127.0.0.1 and a free port, with its data in a test's temporary directory. */
public final class TestServer implements AutoCloseable {

    /**
     * Production defaults but no rate limits: for tests that push load through on purpose. Rate limits
     * have their own tests, with the defaults on.
     */
    public static final UnaryOperator<ServerConfig> UNTHROTTLED =
            c -> c.withAdmission(c.admission().withoutRateLimits());

    private final ParleyServer server;

    private TestServer(ParleyServer server) {
        this.server = server;
    }

    public static TestServer start(Path dataDir) throws Exception {
        return start(dataDir, c -> c);
    }

    public static TestServer start(Path dataDir, UnaryOperator<ServerConfig> customize) throws Exception {
        ServerConfig config = customize.apply(ServerConfig.defaults().withPort(0).withDataDir(dataDir));
        return new TestServer(ParleyServer.start(config));
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

    public ParleyServer server() {
        return server;
    }

    @Override
    public void close() {
        server.close();
    }
}
