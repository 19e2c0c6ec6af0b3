package io.parley.engine;

import io.parley.engine.cluster.RedisAddress;
import io.parley.store.PostgresHistoryStore;
import io.parley.store.PostgresUrl;
import io.parley.testing.NodeServices;
import io.parley.testing.PostgresProcess;
import io.parley.testing.RedisProcess;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * One node of several against the broker contract: real PostgreSQL and Redis processes (one each for
 * the class; a fresh database and an emptied Redis per test). What a single node promises, a node of
 * several must promise too.
 */
class RedisBrokerTest extends BrokerContract {

    private static NodeServices services;
    private static PostgresProcess postgres;
    private static RedisProcess redis;
    private final List<PostgresHistoryStore> stores = new ArrayList<>();

    @BeforeAll
    static void startServices() throws Exception {
        services = NodeServices.start();
        postgres = services.postgres();
        redis = services.redis();
    }

    @AfterAll
    static void stopServices() {
        if (services != null) {
            services.close();
        }
    }

    @Override
    protected Broker start(Path dir, BroadcastEncoder encoder, long retainMessages, int namesUpTo, long graceMillis)
            throws Exception {
        redis.flushAll();
        PostgresHistoryStore store = PostgresHistoryStore.open(PostgresUrl.parse(postgres.createDatabase()));
        stores.add(store);
        return RedisBroker.start(store, RedisAddress.parse(redis.url()), encoder, 50, retainMessages, namesUpTo,
                graceMillis, "contract-node",
                (thread, cause) -> { throw new AssertionError(thread.getName() + " died", cause); });
    }

    @Override
    protected void stopped() {
        stores.forEach(PostgresHistoryStore::close);
        stores.clear();
    }
}
