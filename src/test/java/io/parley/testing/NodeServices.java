package io.parley.testing;

import java.nio.file.Files;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * What nodes sharing rooms need, for a test class: one real PostgreSQL and one real Redis, started
 * once and stopped together. Skips the class (with the reason) only where their Debian packages are
 * missing; .ci/run installs them, so CI never skips.
 */
public final class NodeServices implements AutoCloseable {

    private final PostgresProcess postgres;
    private final RedisProcess redis;

    private NodeServices(PostgresProcess postgres, RedisProcess redis) {
        this.postgres = postgres;
        this.redis = redis;
    }

    public static NodeServices start() throws Exception {
        assumeTrue(PostgresProcess.unavailableReason() == null, PostgresProcess.unavailableReason());
        assumeTrue(RedisProcess.available(), "redis-server is not installed (.ci/run installs it)");
        PostgresProcess postgres = PostgresProcess.launch();
        try {
            return new NodeServices(postgres, RedisProcess.start(Files.createTempDirectory("parley-redis")));
        } catch (Exception | Error e) {
            postgres.close();
            throw e;
        }
    }

    public PostgresProcess postgres() {
        return postgres;
    }

    public RedisProcess redis() {
        return redis;
    }

    @Override
    public void close() {
        redis.close();
        postgres.close();
    }
}
